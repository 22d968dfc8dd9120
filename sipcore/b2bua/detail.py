"""The call detail of one leg: what the CDR says about it, built up as the leg lives.

Every leg (the caller's and each attempted callee's) gets its own ``LegDetail`` with a
unique ``leg_id``; when the leg ends its ``payload()`` goes to ``EventSink.record_call_detail``
once. Keys are the field names of the platform's CallDetailRecord model; times are ISO 8601
in UTC so the payload is JSON as it stands.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

IN = "in"
"""A leg whose INVITE reached us (the caller's)."""
OUT = "out"
"""A leg whose INVITE we sent (a callee's)."""


def _iso(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, UTC).isoformat()


@dataclass(slots=True, kw_only=True)
class LegDetail:
    call_id: str
    direction: str
    created_at: float
    worker_id: str = ""
    leg_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    customer_id: int | None = None
    account_id: int | None = None
    provider_id: int | None = None
    from_header: str = ""
    to_header: str = ""
    destination: str = ""
    bridged_call_id: str = ""
    local_socket: str = ""
    remote_socket: str = ""
    progress_status: int | None = None
    progress_at: float | None = None
    answered_status: int | None = None
    answered_at: float | None = None
    hungup_at: float | None = None
    hangup_reason: str = ""

    def progress(self, status: int, at: float) -> None:
        if self.progress_status is None:
            self.progress_status, self.progress_at = status, at

    def answered(self, status: int, at: float) -> None:
        """The final status of the leg's INVITE (2xx answered, anything else rejected)."""
        if self.answered_status is None:
            self.answered_status = status
            if 200 <= status < 300:
                self.answered_at = at

    def hung_up(self, reason: str, at: float) -> None:
        if self.hungup_at is None:
            self.hungup_at, self.hangup_reason = at, reason[:255]

    @property
    def duration(self) -> int | None:
        if self.answered_at is None or self.hungup_at is None:
            return None
        return max(0, round(self.hungup_at - self.answered_at))

    def payload(self) -> dict[str, Any]:
        """The JSON-safe record for ``EventSink.record_call_detail``."""
        return {
            "leg_id": self.leg_id,
            "call_id": self.call_id,
            "direction": self.direction,
            "created_at": _iso(self.created_at),
            "customer_id": self.customer_id,
            "account_id": self.account_id,
            "provider_id": self.provider_id,
            "from_header": self.from_header[:1024],
            "to_header": self.to_header[:1024],
            "destination": self.destination[:1024],
            "bridged_call_id": self.bridged_call_id,
            "local_socket": self.local_socket,
            "remote_socket": self.remote_socket,
            "progress_status": self.progress_status,
            "progress_at": _iso(self.progress_at),
            "answered_status": self.answered_status,
            "answered_at": _iso(self.answered_at),
            "duration_seconds": self.duration,
            "hungup_at": _iso(self.hungup_at),
            "hangup_reason": self.hangup_reason,
            "worker_id": self.worker_id,
        }
