"""Every domain model is in the admin; secrets are set through write-only fields."""

import pytest
from django.contrib import admin
from django.db.models.signals import post_save
from django.urls import reverse

from sipplatform.customers.models import User
from sipplatform.directory.models import SIPAccount
from sipplatform.providers.models import Provider

DOMAIN_APPS = {"customers", "directory", "providers", "dialplans", "calls"}


def domain_models():
    return [model for model in admin.site._registry if model._meta.app_label in DOMAIN_APPS]


def test_every_domain_model_is_registered():
    registered = {model.__name__ for model in domain_models()}

    assert registered == {
        "Customer",
        "User",
        "SIPDomain",
        "SIPAccount",
        "Binding",
        "Provider",
        "ProviderRegistration",
        "Dialplan",
        "DestinationPolicy",
        "CallDetailRecord",
        "TransferAuditRecord",
    }


@pytest.mark.parametrize("model", domain_models(), ids=lambda model: model.__name__)
def test_changelists_render_with_filters_and_search(admin_client, tenant_a, model):
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")

    response = admin_client.get(url, {"q": "a"})

    assert response.status_code == 200


@pytest.mark.parametrize("model", domain_models(), ids=lambda model: model.__name__)
def test_change_pages_render(admin_client, tenant_a, model):
    opts = model._meta
    row = model.objects.first()

    response = admin_client.get(
        reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[row.pk])
    )

    assert response.status_code == 200


def test_a_sip_account_is_added_with_a_password_that_only_becomes_hashes(admin_client, tenant_a):
    response = admin_client.post(
        reverse("admin:directory_sipaccount_add"),
        {
            "customer": tenant_a.customer.pk,
            "domain": tenant_a.domain.pk,
            "username": "carol",
            "password": "Admin-Set-Secret-9",
            "ip_allow_list": "[]",
            "max_concurrent_calls": 4,
            "transfer_default": "inherit",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    account = SIPAccount.objects.get(username="carol")
    assert len(account.ha1_sha256) == 64
    page = admin_client.get(reverse("admin:directory_sipaccount_change", args=[account.pk]))
    assert account.ha1_md5 in page.text
    assert "Admin-Set-Secret-9" not in page.text


def test_the_provider_password_is_write_only(admin_client, tenant_a):
    url = reverse("admin:providers_provider_change", args=[tenant_a.provider.pk])

    page = admin_client.get(url)
    assert "trunk-secret" not in page.text
    assert tenant_a.provider.password_encrypted not in page.text

    form = {
        "customer": tenant_a.customer.pk,
        "name": "trunk",
        "server_uri": "sip:trunk.test",
        "register_expiry": 3600,
        "registration-TOTAL_FORMS": 1,
        "registration-INITIAL_FORMS": 1,
        "registration-0-provider": tenant_a.provider.pk,
    }
    assert admin_client.post(url, form).status_code == 302
    assert Provider.objects.get().get_password() == "trunk-secret"
    assert admin_client.post(url, form | {"password": "rotated-1"}).status_code == 302
    assert Provider.objects.get().get_password() == "rotated-1"


def test_staff_add_a_customer_admin_through_the_admin(admin_client, tenant_a):
    response = admin_client.post(
        reverse("admin:customers_user_add"),
        {
            "username": "new-admin",
            "usable_password": "true",
            "password1": "Long-Enough-Pass-77",
            "password2": "Long-Enough-Pass-77",
            "role": "customer_admin",
            "customer": tenant_a.customer.pk,
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert User.objects.get(username="new-admin").customer == tenant_a.customer


def test_the_admin_refuses_a_customer_admin_without_a_customer(admin_client, db):
    response = admin_client.post(
        reverse("admin:customers_user_add"),
        {
            "username": "orphan",
            "usable_password": "true",
            "password1": "Long-Enough-Pass-77",
            "password2": "Long-Enough-Pass-77",
            "role": "customer_admin",
        },
    )

    assert response.status_code == 200
    assert "needs a customer" in response.text
    assert not User.objects.filter(username="orphan").exists()


def test_staff_suspend_customers_and_disable_accounts_in_bulk(admin_client, tenant_a, tenant_b):
    saved = []

    def remember(sender, instance, **kwargs):
        saved.append((sender.__name__, instance.pk))

    post_save.connect(remember, dispatch_uid="test-bulk-actions")
    admin_client.post(
        reverse("admin:customers_customer_changelist"),
        {"action": "suspend", "_selected_action": [tenant_a.customer.pk]},
    )
    admin_client.post(
        reverse("admin:directory_sipaccount_changelist"),
        {"action": "disable", "_selected_action": [tenant_b.account.pk]},
    )

    post_save.disconnect(dispatch_uid="test-bulk-actions")

    assert list(SIPAccount.objects.active()) == []
    tenant_a.customer.refresh_from_db()
    assert tenant_a.customer.suspended
    # Running SIP workers learn of changes through the save signals.
    assert ("Customer", tenant_a.customer.pk) in saved
    assert ("SIPAccount", tenant_b.account.pk) in saved
