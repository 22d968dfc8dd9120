"""Toll-fraud guard: may this destination be dialled, and may this call start now?

Every destination the platform dials, for a dialplan or for a transfer, is judged here
before an INVITE leaves (TRANSFER.md, "Toll-fraud guard"). The judgement is pure: the
rules arrive as a ``DestinationRules`` value and the clock is passed in, so the same
code serves the worker, the portal's dry run and the tests.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

_VISUAL_SEPARATORS = re.compile(r"[\s().\-]")
_DIALLABLE = re.compile(r"\+?[0-9*#]+")


class Verdict(StrEnum):
    ALLOWED = "allowed"
    DENIED_PREFIX = "denied-prefix"
    COUNTRY_NOT_ALLOWED = "country-not-allowed"
    CONCURRENT_LIMIT = "concurrent-limit"
    RATE_LIMIT = "rate-limit"


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    verdict: Verdict
    detail: str = ""

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.ALLOWED

    @property
    def refusal_status(self) -> int:
        """The SIP status a refused attempt is answered with.

        A destination refused by policy is forbidden (403); a limit reached is temporary
        (503), so a well-behaved caller backs off and tries again later.
        """
        if self.verdict in (Verdict.CONCURRENT_LIMIT, Verdict.RATE_LIMIT):
            return 503
        return 403


ALLOWED = Decision(verdict=Verdict.ALLOWED)


def normalise_number(user: str) -> tuple[str, bool] | None:
    """Digits of a dialled user part and whether they were dialled in international form.

    ``+44 909 123``, ``0044909123`` both give ``("44909123", True)``; ``0909123`` gives
    ``("0909123", False)``. Anything that is not a telephone number (``alice``) gives None:
    names are routed to accounts, never to a tariff.
    """
    compact = _VISUAL_SEPARATORS.sub("", user)
    if not compact or not _DIALLABLE.fullmatch(compact):
        return None
    if compact.startswith("+"):
        return compact[1:], True
    if compact.startswith("00"):
        return compact[2:], True
    return compact, False


@dataclass(frozen=True, slots=True, kw_only=True)
class DestinationRules:
    """Platform-wide and customer rules merged: any denied prefix denies."""

    denied_prefixes: frozenset[str] = field(default_factory=frozenset)
    allowed_country_codes: frozenset[str] = field(default_factory=frozenset)

    def judge(self, user: str) -> Decision:
        number = normalise_number(user)
        if number is None:
            return ALLOWED
        digits, international = number
        for prefix in sorted(self.denied_prefixes, key=len, reverse=True):
            if digits.startswith(prefix):
                return Decision(
                    verdict=Verdict.DENIED_PREFIX,
                    detail=f"destination {user} matches denied prefix {prefix}",
                )
        outside_allowed_countries = self.allowed_country_codes and not any(
            digits.startswith(code) for code in self.allowed_country_codes
        )
        if international and outside_allowed_countries:
            return Decision(
                verdict=Verdict.COUNTRY_NOT_ALLOWED,
                detail=f"destination {user} is outside the allowed country codes",
            )
        return ALLOWED


class CallRateLimiter:
    """Calls per minute per key (a customer), over a sliding 60-second window.

    In-process: a worker judges the calls it starts. The shared, Redis-backed counter for
    several workers implements the same two methods.
    """

    WINDOW = 60.0

    def __init__(self) -> None:
        self._starts: dict[object, deque[float]] = {}

    def try_start(self, key: object, limit: int, now: float) -> Decision:
        decision = self.allows(key, limit, now)
        if decision.allowed:
            self._starts.setdefault(key, deque()).append(now)
        return decision

    def allows(self, key: object, limit: int, now: float) -> Decision:
        """What ``try_start`` would decide now, without counting a start (a check made
        before something is accepted that starts the call later)."""
        starts = self._starts.get(key)
        while starts and starts[0] <= now - self.WINDOW:
            starts.popleft()
        if limit and starts is not None and len(starts) >= limit:
            return Decision(
                verdict=Verdict.RATE_LIMIT, detail=f"more than {limit} calls in a minute"
            )
        return ALLOWED

    def forget_idle(self, now: float) -> None:
        """Drop keys whose window is empty, so the map does not grow with every customer seen."""
        for key in [k for k, v in self._starts.items() if not v or v[-1] <= now - self.WINDOW]:
            del self._starts[key]


class ConcurrentCalls:
    """Active calls per key (an account); ``acquire`` refuses past the limit."""

    def __init__(self) -> None:
        self._active: dict[object, int] = {}

    def acquire(self, key: object, limit: int) -> Decision:
        decision = self.allows(key, limit)
        if decision.allowed:
            self._active[key] = self._active.get(key, 0) + 1
        return decision

    def allows(self, key: object, limit: int) -> Decision:
        """What ``acquire`` would decide now, without taking a call."""
        active = self._active.get(key, 0)
        if limit and active >= limit:
            return Decision(
                verdict=Verdict.CONCURRENT_LIMIT, detail=f"{active} calls already active"
            )
        return ALLOWED

    def release(self, key: object) -> None:
        active = self._active.get(key, 0) - 1
        if active > 0:
            self._active[key] = active
        else:
            self._active.pop(key, None)

    def active(self, key: object) -> int:
        return self._active.get(key, 0)
