"""SIP account actions of the portal: password reset, disable, registered contacts.

A generated password (here or in ``AccountCreateForm``) leaves the server once, rendered on
the page that shows it; it is kept nowhere (the account stores only its digest HA1s, and
nothing is put in the session).
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from sipplatform.directory.models import Binding, SIPAccount


@transaction.atomic
def reset_password(account: SIPAccount) -> str:
    """Give the account a new generated password; phones must be set up with it again."""
    password = SIPAccount.generate_password()
    account.set_password(password)
    account.save(update_fields=["ha1_md5", "ha1_sha256", "password_changed_at"])
    return password


def set_disabled(account: SIPAccount, disabled: bool) -> None:
    """A disabled account can neither register nor call; its history is kept."""
    account.disabled = disabled
    account.save(update_fields=["disabled"])


def with_contact_counts(accounts: QuerySet) -> QuerySet:
    """Accounts annotated with ``registered_contacts``: bindings that have not expired."""
    return accounts.select_related("customer", "domain", "outgoing_dialplan").annotate(
        registered_contacts=Count("bindings", filter=Q(bindings__expires_at__gt=timezone.now()))
    )


def current_contacts(account: SIPAccount) -> QuerySet:
    """The account's registered contacts that have not expired, soonest expiry last."""
    return Binding.objects.filter(account=account).current().order_by("-expires_at")
