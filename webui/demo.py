"""The demo tenant ``runplatform`` seeds on an empty database, and its kept credentials.

Passwords are generated on the first start and never stored in clear in the database (SIP
accounts keep digest HA1s, the portal user a password hash), so the only copy is the
credentials file beside the database (mode 0600). A second start reads it back, checks it still
opens the portal, and prints the same logins again.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction

from sipplatform.customers.models import Customer, User
from sipplatform.dialplans.models import Dialplan
from sipplatform.directory.models import SIPAccount, SIPDomain

DEMO_CUSTOMER = "Demo"
DEMO_PORTAL_USERNAME = "demo-admin"
DEMO_PHONES = ("alice", "bob")

DEFAULT_DIALPLAN = """\
# Outgoing calls of the demo phones (SIPSorcery style).
# A call to another of this customer's accounts rings every phone registered to it;
# if nobody answers, the caller hears why.
sys.Log("%s calls %s" % (sys.Username, req.URI.User))
sys.Dial("${dst}@local")
sys.Respond(480, "%s is not available" % req.URI.User)
"""

TRANSFER_DIALPLAN = """\
# Blind transfers the server processes (tr=c) run here, with the Refer-To user as ${dst}.
# Only this customer's own accounts are reachable: a transfer never dials out.
sys.Dial("${dst}@local")
sys.Respond(404, "No such local account")
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class PhoneLogin:
    """What a softphone needs to register: ``username@domain`` and the password."""

    username: str
    password: str
    domain: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoCredentials:
    customer: str
    portal_username: str
    portal_password: str
    phones: tuple[PhoneLogin, ...]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> DemoCredentials:
        data = json.loads(text)
        return cls(
            customer=data["customer"],
            portal_username=data["portal_username"],
            portal_password=data["portal_password"],
            phones=tuple(PhoneLogin(**phone) for phone in data["phones"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoState:
    """The outcome of :func:`ensure_demo`: credentials to print, or why there are none."""

    credentials: DemoCredentials | None
    created: bool
    note: str = ""


def credentials_path() -> Path:
    return Path(settings.VAR_DIR) / "demo-credentials.json"


def ensure_demo(path: Path) -> DemoState:
    """Seed the demo on an empty database; otherwise reuse the credentials kept in ``path``."""
    if not Customer.objects.exists():
        return DemoState(credentials=seed_demo(path), created=True)
    try:
        credentials = DemoCredentials.from_json(path.read_text())
    except FileNotFoundError:
        return DemoState(
            credentials=None,
            created=False,
            note=f"the database has customers but no demo credentials are kept in {path}",
        )
    except (ValueError, KeyError, TypeError) as exc:
        return DemoState(credentials=None, created=False, note=f"{path} is unreadable: {exc}")
    user = User.objects.filter(username=credentials.portal_username).first()
    if user is None or not user.check_password(credentials.portal_password):
        return DemoState(
            credentials=None,
            created=False,
            note=f"the login kept in {path} no longer opens this database's portal",
        )
    return DemoState(credentials=credentials, created=False)


def seed_demo(path: Path) -> DemoCredentials:
    """Create the demo customer, its portal login, dialplans and phones; keep the passwords.

    One transaction: if the credentials cannot be written, nothing is seeded either, so the
    next start tries again instead of leaving logins nobody knows.
    """
    with transaction.atomic():
        customer = Customer.objects.create(name=DEMO_CUSTOMER)
        portal_password = secrets.token_urlsafe(12)
        User.objects.create_user(
            DEMO_PORTAL_USERNAME,
            password=portal_password,
            customer=customer,
            role=User.Role.CUSTOMER_ADMIN,
        )
        default = Dialplan.objects.create(
            customer=customer,
            name="default",
            script=DEFAULT_DIALPLAN,
            description="Outgoing calls: ring the called local account's phones.",
        )
        Dialplan.objects.create(
            customer=customer,
            name="transfer",
            script=TRANSFER_DIALPLAN,
            description="Server-side blind transfers (tr=c) to local accounts.",
        )
        domain, _ = SIPDomain.objects.get_or_create(name=settings.SIP_DOMAIN)
        phones = []
        for username in DEMO_PHONES:
            password = SIPAccount.generate_password()
            account = SIPAccount(
                customer=customer, domain=domain, username=username, outgoing_dialplan=default
            )
            account.set_password(password)
            account.full_clean()
            account.save()
            phones.append(PhoneLogin(username=username, password=password, domain=domain.name))
        credentials = DemoCredentials(
            customer=customer.name,
            portal_username=DEMO_PORTAL_USERNAME,
            portal_password=portal_password,
            phones=tuple(phones),
        )
        write_private_file(path, credentials.to_json())
    return credentials


def write_private_file(path: Path, text: str) -> None:
    """Replace ``path`` atomically with ``text``, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(partial, path)
