"""Two customers with a portal user each, and a platform staff user (healthchecks' habit).

Each customer owns one of everything the portal shows, named after it (``acme-phone``,
``globex-trunk``), so a page leaking another tenant's data is caught by a name search.
"""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from sipplatform.calls.models import CallDetailRecord, TransferAuditRecord
from sipplatform.customers.models import Customer, User
from sipplatform.dialplans.models import Dialplan
from sipplatform.directory.models import Binding, SIPAccount, SIPDomain
from sipplatform.providers.models import Provider, ProviderRegistration

PASSWORD = "correct-Horse-7"


@dataclass
class Objects:
    """What ``populate`` made for one customer."""

    customer: Customer
    account: SIPAccount
    provider: Provider
    dialplan: Dialplan
    call: CallDetailRecord
    transfer: TransferAuditRecord


def populate(customer: Customer, prefix: str) -> Objects:
    """One SIP account with a registered phone, a provider, a dialplan, a call, a transfer."""
    domain, _ = SIPDomain.objects.get_or_create(name="sip.example.test")
    dialplan = Dialplan.objects.create(
        customer=customer, name=f"{prefix}-plan", script='sys.Dial("${dst}@local")\n'
    )
    account = SIPAccount(
        customer=customer, domain=domain, username=f"{prefix}-phone", outgoing_dialplan=dialplan
    )
    account.set_password("phone-secret-1")
    account.save()
    Binding.objects.create(
        account=account,
        contact_uri=f"sip:{prefix}@192.0.2.10:5062",
        received_host="192.0.2.10",
        received_port=5062,
        transport="udp",
        expires_at=timezone.now() + timedelta(minutes=30),
        user_agent=f"{prefix}-softphone/1.0",
        call_id=f"reg-{prefix}",
        cseq=1,
    )
    provider = Provider.objects.create(
        customer=customer, name=f"{prefix}-trunk", server_uri="sip:trunk.test"
    )
    ProviderRegistration.objects.create(provider=provider)
    now = timezone.now()
    call = CallDetailRecord.objects.create(
        leg_id=f"leg-{prefix}",
        call_id=f"call-{prefix}",
        direction="out",
        from_header=f"<sip:{prefix}-phone@sip.example.test>",
        to_header="<sip:1000@sip.example.test>",
        created_at=now - timedelta(minutes=5),
        answered_at=now - timedelta(minutes=4),
        duration_seconds=60,
        customer=customer,
        account=account,
    )
    transfer = TransferAuditRecord.objects.create(
        transfer_id=f"xfer-{prefix}",
        requested_at=now - timedelta(minutes=3),
        decided_at=now - timedelta(minutes=3),
        customer=customer,
        account=account,
        call_id=f"call-{prefix}",
        transferor=f"<sip:{prefix}-phone@sip.example.test>",
        refer_to=f"<sip:{prefix}-target@sip.example.test>",
        kind="blind",
        policy="c",
        policy_source="customer",
        decision="processed",
        notify_statuses=[100, 180, 200],
        outcome="completed",
        final_status=200,
        completed_at=now - timedelta(minutes=2),
    )
    return Objects(customer, account, provider, dialplan, call, transfer)


@pytest.fixture
def fast_hashers(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def acme(db, fast_hashers) -> Objects:
    return populate(Customer.objects.create(name="Acme"), "acme")


@pytest.fixture
def globex(db, fast_hashers) -> Objects:
    return populate(Customer.objects.create(name="Globex"), "globex")


@pytest.fixture
def acme_admin(acme) -> User:
    return User.objects.create_user("acme-admin", password=PASSWORD, customer=acme.customer)


@pytest.fixture
def globex_admin(globex) -> User:
    return User.objects.create_user("globex-admin", password=PASSWORD, customer=globex.customer)


@pytest.fixture
def staff_user(db, fast_hashers) -> User:
    return User.objects.create_user("ops", password=PASSWORD, role=User.Role.STAFF, is_staff=True)


@pytest.fixture
def acme_client(client, acme_admin):
    client.force_login(acme_admin)
    return client


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client
