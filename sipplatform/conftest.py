"""Fixtures for the domain apps' tests: two populated tenants and a platform staff user."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from sipplatform.calls.models import CallDetailRecord, TransferAuditRecord
from sipplatform.customers.models import Customer, User
from sipplatform.dialplans.models import DestinationPolicy, Dialplan
from sipplatform.directory.models import Binding, SIPAccount, SIPDomain
from sipplatform.directory.services import create_sip_account
from sipplatform.providers.models import Provider
from sipplatform.providers.services import create_provider

FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class Tenant:
    """A customer with one of everything it can own, and its portal user."""

    customer: Customer
    user: User
    domain: SIPDomain
    account: SIPAccount
    binding: Binding
    provider: Provider
    dialplan: Dialplan
    policy: DestinationPolicy
    call: CallDetailRecord
    transfer: TransferAuditRecord


def make_tenant(name: str) -> Tenant:
    customer = Customer.objects.create(name=name)
    slug = customer.slug
    user = User.objects.create_user(f"{slug}-admin", password="pw-not-checked", customer=customer)
    domain = SIPDomain.objects.create(name=f"{slug}.sip.test", customer=customer)
    dialplan = Dialplan.objects.create(customer=customer, name="default", script="x = 1\n")
    account, _ = create_sip_account(customer, f"{slug}-phone", password="phone-secret-1")
    binding = Binding.objects.create(
        account=account,
        contact_uri=f"sip:{slug}@192.0.2.10:5060",
        expires_at=timezone.now() + timedelta(hours=1),
        received_host="192.0.2.10",
        received_port=5060,
        transport="udp",
        call_id=f"reg-{slug}",
        cseq=1,
    )
    provider = create_provider(customer, "trunk", "sip:trunk.test", password="trunk-secret")
    policy = DestinationPolicy.objects.create(customer=customer, denied_prefixes=["1555"])
    now = timezone.now()
    call = CallDetailRecord.objects.create(
        leg_id=f"leg-{slug}",
        call_id=f"call-{slug}",
        direction="out",
        created_at=now,
        customer=customer,
        account=account,
    )
    transfer = TransferAuditRecord.objects.create(
        transfer_id=f"xfer-{slug}",
        requested_at=now - timedelta(seconds=1),
        customer=customer,
        account=account,
        call_id=f"call-{slug}",
        refer_to="<sip:bob@x>",
        kind="blind",
        policy="n",
        policy_source="platform",
        decision="rejected",
    )
    return Tenant(
        customer, user, domain, account, binding, provider, dialplan, policy, call, transfer
    )


@pytest.fixture
def fast_hashers(settings) -> None:
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture
def tenant_a(db, fast_hashers) -> Tenant:
    return make_tenant("Tenant A")


@pytest.fixture
def tenant_b(db, fast_hashers) -> Tenant:
    return make_tenant("Tenant B")


@pytest.fixture
def platform_staff(db, fast_hashers) -> User:
    return User.objects.create_user("platform-ops", password="pw", role=User.Role.STAFF)
