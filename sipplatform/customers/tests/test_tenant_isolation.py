"""A customer's portal user reads only its own customer's objects, through every manager."""

import pytest
from django.contrib.auth.models import AnonymousUser

from sipplatform.calls.models import CallDetailRecord, TransferAuditRecord
from sipplatform.customers.models import Customer, User
from sipplatform.dialplans.models import DestinationPolicy, Dialplan
from sipplatform.directory.models import Binding, SIPAccount, SIPDomain
from sipplatform.providers.models import Provider, ProviderRegistration

OWNED = [
    (SIPAccount, "account"),
    (Binding, "binding"),
    (Provider, "provider"),
    (Dialplan, "dialplan"),
    (DestinationPolicy, "policy"),
    (CallDetailRecord, "call"),
    (TransferAuditRecord, "transfer"),
    (SIPDomain, "domain"),
]


@pytest.mark.parametrize(("model", "attribute"), OWNED, ids=[m.__name__ for m, _ in OWNED])
def test_customer_user_sees_own_objects_and_none_of_another_customers(
    tenant_a, tenant_b, model, attribute
):
    visible = model.objects.visible_to(tenant_a.user)

    assert getattr(tenant_a, attribute) in visible
    assert getattr(tenant_b, attribute) not in visible
    assert not visible.filter(pk=getattr(tenant_b, attribute).pk).exists()


@pytest.mark.parametrize(("model", "attribute"), OWNED, ids=[m.__name__ for m, _ in OWNED])
def test_for_customer_returns_only_that_customers_rows(tenant_a, tenant_b, model, attribute):
    rows = model.objects.for_customer(tenant_b.customer)

    assert list(rows) == [getattr(tenant_b, attribute)]


def test_customers_users_and_registrations_are_isolated(tenant_a, tenant_b):
    user = tenant_a.user

    assert list(Customer.objects.visible_to(user)) == [tenant_a.customer]
    assert list(User.objects.visible_to(user)) == [user]
    assert list(ProviderRegistration.objects.visible_to(user)) == [tenant_a.provider.registration]


def test_platform_wide_rows_are_visible_to_every_customer(tenant_a, tenant_b):
    platform_policy = DestinationPolicy.objects.platform()
    shared_domain = SIPDomain.objects.create(name="shared.sip.test")

    assert platform_policy in DestinationPolicy.objects.visible_to(tenant_a.user)
    assert shared_domain in SIPDomain.objects.visible_to(tenant_b.user)


def test_platform_staff_sees_every_customer(tenant_a, tenant_b, platform_staff):
    assert set(SIPAccount.objects.visible_to(platform_staff)) == {
        tenant_a.account,
        tenant_b.account,
    }
    assert Customer.objects.visible_to(platform_staff).count() == 2


def test_anonymous_and_inactive_users_see_nothing(tenant_a):
    tenant_a.user.is_active = False

    assert not SIPAccount.objects.visible_to(AnonymousUser()).exists()
    assert not SIPAccount.objects.visible_to(tenant_a.user).exists()
    assert not Customer.objects.visible_to(AnonymousUser()).exists()
