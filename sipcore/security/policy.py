"""When failed authentications turn into a ban, and how long each ban lasts.

Pure configuration and arithmetic, no state: the counters live in a ``CounterStore`` (shared
between workers), and ``SecurityService`` asks this policy what they mean. Bans grow with
each repeat offence (``first_ban``, then times ``ban_growth`` per offence, capped at
``max_ban``) so a scanner that comes back after its ban is kept out longer each time, while a
phone with a mistyped password is back quickly after its first.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True, slots=True, kw_only=True)
class BanPolicy:
    """Thresholds and durations of the brute-force defence; every value in seconds or counts.

    max_source_failures: failed authentications from one address within ``failure_window``
      that ban the address.
    max_account_failures: failed authentications naming one account (from any addresses)
      within ``failure_window`` that lock the account; requests claiming it are dropped.
    offence_memory: how long a subject's past bans count towards the next one's length.
    """

    max_source_failures: int = 10
    max_account_failures: int = 30
    failure_window: float = 600.0
    first_ban: float = 300.0
    ban_growth: float = 4.0
    max_ban: float = 7 * 86400.0
    offence_memory: float = 30 * 86400.0
    ban_scanners: bool = True
    """A request matching a known scanner bans its source (not only dropped)."""

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, bool) and value <= 0:
                raise ValueError(f"BanPolicy.{field.name} must be positive, not {value!r}")
        if self.ban_growth < 1:
            raise ValueError("BanPolicy.ban_growth must be at least 1 (bans never shrink)")
        if self.max_ban < self.first_ban:
            raise ValueError("BanPolicy.max_ban must not be shorter than first_ban")

    def ban_duration(self, offence: int) -> float:
        """Seconds the ``offence``-th ban (1 for the first) lasts."""
        if offence < 1:
            raise ValueError(f"offences are counted from 1, not {offence}")
        exponent = min(offence - 1, 64)  # beyond this every growth >= 2 is past any cap
        return min(self.first_ban * self.ban_growth**exponent, self.max_ban)
