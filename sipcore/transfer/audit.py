"""The transfer audit record and the live events of one REFER (TRANSFER.md, "Audit").

``TransferAudit`` accumulates what happened and renders it two ways: the payload for
``EventSink.record_transfer_audit`` (keys are the fields of
``sipplatform.calls.models.TransferAuditRecord``; times ISO 8601 in UTC; the whole record
each time, so a later payload simply updates the row keyed on ``transfer_id``), and the
``transfer.*`` live events. A payload is written when the REFER is decided and again when
the transfer ends; a refused REFER gets exactly one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sipcore.directory import TransferPolicy
from sipcore.events import LiveEvent
from sipcore.transfer.actions import Action, Audit, Publish
from sipcore.transfer.policy import PLATFORM_POLICY, Decision
from sipcore.transfer.refer import ReferRequest, TransferKind


class Outcome(StrEnum):
    """TransferAuditRecord.Outcome."""

    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"
    REJECTED = "rejected"


def iso(at: float | None) -> str | None:
    """Unix time as ISO 8601 in UTC (what the record's DateTimeFields accept)."""
    return None if at is None else datetime.fromtimestamp(at, UTC).isoformat()


def _ms(start: float, end: float | None) -> int | None:
    return None if end is None else max(0, round((end - start) * 1000))


@dataclass(slots=True, kw_only=True)
class TransferAudit:
    transfer_id: str
    requested_at: float
    refer: ReferRequest
    customer_id: int | None
    account_id: int | None
    transferor: str
    transferee: str
    worker_id: str = ""
    target: str = ""
    """The normalised target: the Refer-To URI without its headers."""
    related_call_ids: list[str] = field(default_factory=list)
    kind: TransferKind = TransferKind.BLIND
    policy: TransferPolicy = PLATFORM_POLICY
    decision: Decision | None = None
    reason: str = ""
    notify_statuses: list[int] = field(default_factory=list)
    outcome: Outcome = Outcome.PENDING
    final_status: int | None = None
    decided_at: float | None = None
    completed_at: float | None = None

    def payload(self) -> dict[str, Any]:
        """The whole record as JSON-safe values."""
        refer = self.refer
        return {
            "transfer_id": self.transfer_id,
            "requested_at": iso(self.requested_at),
            "customer_id": self.customer_id,
            "account_id": self.account_id,
            "call_id": refer.call_id,
            "related_call_ids": list(self.related_call_ids),
            "transferor": self.transferor[:1024],
            "transferee": self.transferee[:1024],
            "refer_to": refer.raw_refer_to,
            "replaces": refer.raw_replaces,
            "referred_by": refer.raw_referred_by,
            "kind": self.kind.value,
            "policy": self.policy.value,
            "policy_source": self.policy.source,
            "decision": (self.decision or Decision.REJECTED).value,
            "reason": self.reason[:255],
            "target": self.target[:1024],
            "notify_statuses": list(self.notify_statuses),
            "outcome": self.outcome.value,
            "final_status": self.final_status,
            "decided_at": iso(self.decided_at),
            "completed_at": iso(self.completed_at),
            "decision_ms": _ms(self.requested_at, self.decided_at),
            "duration_ms": _ms(self.requested_at, self.completed_at),
            "worker_id": self.worker_id,
        }

    # the steps -------------------------------------------------------------------------------

    def requested(self) -> list[Action]:
        return [
            self._event(
                "transfer.requested",
                self.requested_at,
                refer_to=self.refer.raw_refer_to,
                referred_by=self.refer.raw_referred_by,
                replaces=self.refer.raw_replaces,
            )
        ]

    def rejected(self, status: int, reason: str, now: float) -> list[Action]:
        """The REFER was refused: the one record, and the decision shown live."""
        self.decision, self.reason = Decision.REJECTED, reason
        self.outcome, self.final_status = Outcome.REJECTED, status
        self.decided_at = self.completed_at = now
        return [Audit(payload=self.payload()), self._decided_event(now)]

    def decided(self, decision: Decision, now: float) -> list[Action]:
        """The REFER was passed through or accepted: the record so far, and the event."""
        self.decision, self.decided_at = decision, now
        return [Audit(payload=self.payload()), self._decided_event(now)]

    def progress(self, status: int, now: float) -> list[Action]:
        return [self._event("transfer.progress", now, status=status)]

    def finished(
        self, outcome: Outcome, status: int | None, now: float, reason: str = ""
    ) -> list[Action]:
        """The transfer ended: the final record and ``transfer.completed``/``failed``."""
        self.outcome, self.final_status, self.completed_at = outcome, status, now
        if reason:
            self.reason = reason
        kind = "transfer.completed" if outcome is Outcome.COMPLETED else "transfer.failed"
        return [
            Audit(payload=self.payload()),
            self._event(kind, now, status=status, reason=self.reason, outcome=outcome.value),
        ]

    def _decided_event(self, now: float) -> Publish:
        return self._event(
            "transfer.decided",
            now,
            decision=(self.decision or Decision.REJECTED).value,
            policy=self.policy.value,
            policy_source=self.policy.source,
            status=self.final_status,
            reason=self.reason,
        )

    def _event(self, kind: str, at: float, **data: Any) -> Publish:
        payload = {
            "transfer_id": self.transfer_id,
            "call_id": self.refer.call_id,
            "transfer_kind": self.kind.value,
            "transferor": self.transferor,
            "transferee": self.transferee,
            "target": self.target,
            **data,
        }
        return Publish(
            event=LiveEvent(kind=kind, customer_id=self.customer_id, data=payload, at=at)
        )
