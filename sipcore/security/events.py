"""The ``security.*`` monitor events. They go to platform staff only (no customer id): an
attacking address belongs to no customer, and naming which account is under attack to
anyone but staff would help the attacker."""

from __future__ import annotations

from sipcore.events import LiveEvent
from sipcore.security.bans import Ban, Subject


def banned_event(ban: Ban, *, worker_id: str = "") -> LiveEvent:
    """``security.banned``: a subject was banned (by failures, as a scanner, or by staff)."""
    return LiveEvent(
        kind="security.banned",
        customer_id=None,
        data={
            "subject": ban.subject.key,
            "kind": ban.subject.kind.value,
            "value": ban.subject.value,
            "reason": ban.reason.value,
            "detail": ban.detail,
            "offence": ban.offence,
            "until": ban.until,
            "seconds": round(ban.until - ban.since, 3),
            "worker": worker_id,
        },
        at=ban.since,
    )


def unbanned_event(
    subject: Subject, *, how: str, now: float, by: str = "", worker_id: str = ""
) -> LiveEvent:
    """``security.unbanned``: a ban ended; ``how`` is ``expired`` or ``lifted`` (``by`` whom)."""
    return LiveEvent(
        kind="security.unbanned",
        customer_id=None,
        data={
            "subject": subject.key,
            "kind": subject.kind.value,
            "value": subject.value,
            "how": how,
            "by": by,
            "worker": worker_id,
        },
        at=now,
    )


def flood_event(source: str, *, rate: float, burst: float, now: float) -> LiveEvent:
    """``security.flood``: ``source`` went over its request rate; its excess is being dropped."""
    return LiveEvent(
        kind="security.flood",
        customer_id=None,
        data={"source": source, "rate": rate, "burst": burst},
        at=now,
    )


def scanner_event(source: str, *, tool: str, method: str, now: float) -> LiveEvent:
    """``security.scanner``: a request from ``source`` matched a known scanning ``tool``."""
    return LiveEvent(
        kind="security.scanner",
        customer_id=None,
        data={"source": source, "tool": tool, "method": method},
        at=now,
    )
