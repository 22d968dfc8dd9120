"""The ``tr`` policy: which value is in force on a call, and what it decides for a REFER.

Resolution (TRANSFER.md, "The policy"): the ``tr`` option of the leg that answered, else
the SIP account's default, else the customer's, else the platform's ``n``; the source goes
with the value into every decision. An unknown value anywhere is a configuration error
(``TransferPolicyError``, reported to the dialplan log), never a silent default.

``DECISIONS`` is TRANSFER.md's policy table as data: ``(tr value, kind) -> Decision``.
"""

from __future__ import annotations

from enum import StrEnum

from sipcore.directory import PLATFORM_TRANSFER_DEFAULT, TRANSFER_VALUES, TransferPolicy
from sipcore.transfer.refer import Refusal, TransferKind

SOURCES = ("leg", "account", "customer", "platform")
"""Where a policy can come from, first found wins (TransferAuditRecord.policy_source)."""


class TransferPolicyError(ValueError):
    """A ``tr`` value that is not ``n``, ``p`` or ``c``: a message for the dialplan log."""


class Decision(StrEnum):
    """What the platform does with a REFER (TransferAuditRecord.Decision)."""

    REJECTED = "rejected"
    PASSED_THROUGH = "passed_through"
    PROCESSED = "processed"


K = TransferKind
D = Decision

DECISIONS: dict[tuple[str, TransferKind], Decision] = {
    ("n", K.BLIND): D.REJECTED,
    ("n", K.ATTENDED): D.REJECTED,
    ("n", K.SEMI_ATTENDED): D.REJECTED,
    ("p", K.BLIND): D.PASSED_THROUGH,
    ("p", K.ATTENDED): D.PROCESSED,
    ("p", K.SEMI_ATTENDED): D.PROCESSED,
    ("c", K.BLIND): D.PROCESSED,
    ("c", K.ATTENDED): D.PROCESSED,
    ("c", K.SEMI_ATTENDED): D.PROCESSED,
}

DISABLED = Refusal(status=603, reason="Transfers are disabled on this call")
"""The answer to every REFER under ``tr=n``."""

PLATFORM_POLICY = TransferPolicy(value=PLATFORM_TRANSFER_DEFAULT, source="platform")
"""The policy when nothing else sets one."""

MISCONFIGURED = Refusal(status=500, reason="Transfer policy misconfigured")
"""The answer when the policy in force is not a known value (the error goes to the log)."""


def resolve_policy(
    *, leg: str | None, account: str | None = None, customer: str | None = None
) -> TransferPolicy:
    """The first value set among the answering leg's ``tr``, the account's and the
    customer's defaults, else the platform default; raises ``TransferPolicyError``."""
    for source, value in zip(SOURCES, (leg, account, customer), strict=False):
        if value is not None:
            return checked(TransferPolicy(value=value, source=source))
    return PLATFORM_POLICY


def call_policy(leg: str | None, account_policy: TransferPolicy) -> TransferPolicy:
    """The policy on a call whose answering leg had ``leg`` as its ``tr`` (None: not set),
    falling back to the account's already resolved policy (account, customer, platform)."""
    if leg is not None:
        return checked(TransferPolicy(value=leg, source="leg"))
    return checked(account_policy)


def checked(policy: TransferPolicy) -> TransferPolicy:
    """``policy`` itself if its value and source are known; else ``TransferPolicyError``."""
    if policy.value not in TRANSFER_VALUES:
        raise TransferPolicyError(
            f"unknown transfer policy tr={policy.value!r} from the {policy.source} "
            f"(use n, p or c); the transfer is refused"
        )
    if policy.source not in SOURCES:
        raise TransferPolicyError(f"unknown transfer policy source {policy.source!r}")
    return policy


def decide(policy: TransferPolicy, kind: TransferKind) -> Decision:
    """TRANSFER.md's table: reject, pass through or process on the server."""
    return DECISIONS[policy.value, kind]
