"""What a ban is: who is kept out (an address or an account), until when, and why.

Plain frozen values shared by the gate (its local mirror), the stores (which persist them,
in Redis as JSON) and the admin list.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class SubjectKind(StrEnum):
    """What a counter or a ban is about."""

    SOURCE = "source"  # an IP address requests come from
    ACCOUNT = "account"  # a SIP account named in credentials (user@realm)


class BanReason(StrEnum):
    AUTH_FAILURES = "auth-failures"
    SCANNER = "scanner"
    MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class Subject:
    """One address or one account; ``key`` is its name in the stores (``source:1.2.3.4``)."""

    kind: SubjectKind
    value: str

    def __post_init__(self) -> None:
        if not self.value or any(c.isspace() for c in self.value) or len(self.value) > 255:
            raise ValueError(f"not a usable {self.kind} name: {self.value!r}")

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.value}"

    @classmethod
    def from_key(cls, key: str) -> Subject:
        """The subject a ``key`` names; ValueError for anything else."""
        kind, sep, value = key.partition(":")
        if not sep:
            raise ValueError(f"not a subject key: {key!r}")
        return cls(SubjectKind(kind), value)

    @classmethod
    def source(cls, host: str) -> Subject:
        return cls(SubjectKind.SOURCE, host)

    @classmethod
    def account(cls, username: str, realm: str) -> Subject:
        """``username@realm``; ValueError when either is empty."""
        if not username or not realm:
            raise ValueError(f"an account needs a username and a realm: {username!r}@{realm!r}")
        return cls(SubjectKind.ACCOUNT, f"{username}@{realm.lower()}")

    def __str__(self) -> str:
        return self.key


@dataclass(frozen=True, slots=True, kw_only=True)
class Ban:
    """``subject`` is kept out from ``since`` until ``until`` (Unix seconds)."""

    subject: Subject
    since: float
    until: float
    offence: int
    reason: BanReason
    detail: str = ""
    """What caused it, for people: the scanner's name, the failure count."""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.since) and math.isfinite(self.until)):
            raise ValueError("a ban's times must be finite")
        if self.until < self.since:
            raise ValueError("a ban cannot end before it starts")
        if self.offence < 1:
            raise ValueError("offences are counted from 1")

    def active(self, now: float) -> bool:
        return now < self.until

    def to_json(self) -> str:
        return json.dumps(
            {
                "subject": self.subject.key,
                "since": self.since,
                "until": self.until,
                "offence": self.offence,
                "reason": self.reason.value,
                "detail": self.detail,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Ban:
        """Read what ``to_json`` wrote; ValueError (never anything else) when it is not that."""
        try:
            data: dict[str, Any] = json.loads(text)
            return cls(
                subject=Subject.from_key(str(data["subject"])),
                since=float(data["since"]),
                until=float(data["until"]),
                offence=int(data["offence"]),
                reason=BanReason(data["reason"]),
                detail=str(data.get("detail", "")),
            )
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as error:
            raise ValueError(f"not a stored ban: {error}") from None
