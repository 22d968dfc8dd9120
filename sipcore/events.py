"""What the SIP worker tells the rest of the platform: live events and durable records.

Live events (``call.*``, ``transfer.*``, ``registration.*``, ``security.*``,
``dialplan.log``) go to the monitor; records (call detail, transfer audit) must reach the
database exactly once. The worker calls an ``EventSink``; the platform's implementation
(``sipplatform.sipworker.events``) sends events to the Channels layer and records to
Celery. Both methods return at once: a slow consumer never holds up a call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveEvent:
    """One monitor event. ``kind`` is dotted (``call.answered``); ``data`` is JSON-safe."""

    kind: str
    customer_id: int | None
    data: Mapping[str, Any] = field(default_factory=dict)
    at: float = 0.0
    """Unix time the worker saw it."""


class EventSink(Protocol):
    def publish(self, event: LiveEvent) -> None:
        """Send a live event to the customer's monitor and the staff monitor."""

    def record_call_detail(self, payload: Mapping[str, Any]) -> None:
        """Queue one call detail record (keyed on its ``leg_id``) for the database."""

    def record_transfer_audit(self, payload: Mapping[str, Any]) -> None:
        """Queue one transfer audit record (keyed on its ``transfer_id``) for the database."""


class MemoryEventSink:
    """Keeps everything in lists: for tests and for tools that run the worker alone."""

    def __init__(self) -> None:
        self.events: list[LiveEvent] = []
        self.call_details: list[Mapping[str, Any]] = []
        self.transfer_audits: list[Mapping[str, Any]] = []

    def publish(self, event: LiveEvent) -> None:
        self.events.append(event)

    def record_call_detail(self, payload: Mapping[str, Any]) -> None:
        self.call_details.append(payload)

    def record_transfer_audit(self, payload: Mapping[str, Any]) -> None:
        self.transfer_audits.append(payload)

    def kinds(self) -> list[str]:
        return [event.kind for event in self.events]
