"""Provisioning SIP accounts (commands, portal, demo seeding) and clearing stale bindings."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from sipplatform.customers.models import Customer, TransferDefault
from sipplatform.directory.models import Binding, SIPAccount, SIPDomain

STALE_BINDING_GRACE = timedelta(hours=1)


def default_domain() -> SIPDomain:
    """The platform-wide domain named by ``SIP_DOMAIN``, created on first use."""
    domain, _ = SIPDomain.objects.get_or_create(
        name=settings.SIP_DOMAIN, defaults={"customer": None}
    )
    return domain


@transaction.atomic
def create_sip_account(
    customer: Customer,
    username: str,
    *,
    password: str | None = None,
    domain: SIPDomain | None = None,
    transfer_default: str = TransferDefault.INHERIT,
    **fields: object,
) -> tuple[SIPAccount, str]:
    """A new SIP account; returns it and its password (generated when None).

    Raises ``ValidationError`` and saves nothing on a bad username, password, domain or a
    username already taken in the domain.
    """
    password = password or SIPAccount.generate_password()
    account = SIPAccount(
        customer=customer,
        domain=domain or default_domain(),
        username=username,
        transfer_default=transfer_default,
        **fields,
    )
    try:
        account.set_password(password)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    account.full_clean()
    account.save()
    return account, password


def purge_stale_bindings(grace: timedelta = STALE_BINDING_GRACE) -> int:
    """Delete bindings that expired more than ``grace`` ago; returns how many.

    A running SIP worker expires bindings itself, promptly and with a live event for each;
    this sweep only clears what is left behind while no worker ran, so it never races one.
    """
    deleted, _ = Binding.objects.filter(expires_at__lte=timezone.now() - grace).delete()
    return deleted
