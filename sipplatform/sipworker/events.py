"""``PlatformEventSink``: the SIP worker's live events to the channel layer, records to Celery.

Both halves return at once, as ``sipcore.events.EventSink`` demands, and keep their order:

* Live events go into bounded queues ("lanes") on the worker's event loop, each drained by
  one task handing its events to ``sipplatform.monitor.events.publish_events``. A call's events
  share a lane (chosen by its Call-ID), so its ``call.new``, ``call.ringing``,
  ``call.answered``, ``call.ended`` reach the monitor in order, while other calls' events go
  out at the same time on other lanes. Each group send waits on a few Redis round trips, so a
  lane sends what gathered in it within ``batch_delay`` (and whatever queued meanwhile, up to
  ``MAX_EVENT_BATCH``) together: one channel-layer message per group for the whole batch.
  A full lane (the channel layer is down or slower than the calls) drops the event with a
  warning instead of growing without bound or holding up a call.
* Records go to the worker's durable outbox (``outbox``): a thread of their own stores them
  in a local SQLite file, and another sends the stored ones, oldest first, as
  ``record_batch`` Celery tasks of up to ``outbox.MAX_RECORD_BATCH`` records (those arriving within
  50 ms of each other share one). A row leaves the outbox only once the broker accepted its
  message; in the embedded default (``CELERY_TASK_ALWAYS_EAGER``) the delivery thread writes
  the rows itself and a row leaves once written. While the broker (or, embedded, the
  database) is away, records pile up on disk and delivery is tried again with growing
  back-off; rows left by a previous run (SIGKILL, crash) go out first. Storing and sending
  never run on the loop; one sender keeps the order the worker produced the payloads in.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections

from sipcore.events import LiveEvent
from sipplatform.monitor.events import publish_events, validate_publication
from sipplatform.sipworker.outbox import (
    Outbox,
    OutboxCourier,
    Record,
    outbox_path,
)
from sipplatform.sipworker.tasks import CALL_DETAIL, TRANSFER_AUDIT, record_batch, write_records

logger = logging.getLogger(__name__)

DEFAULT_EVENT_BACKLOG = 10_000
EVENT_LANES = 2
DEFAULT_BATCH_DELAY = 0.05
"""Seconds a lane waits after its first event for others to share the send: invisible on the
monitor page, and at 100 calls/s it turns some eight group sends per call into a few per
batch."""
MAX_EVENT_BATCH = 200
DROP_LOG_EVERY = 1000
"""An overloaded channel layer drops events by the thousand: log the first of each thousand."""
DEFAULT_CLOSE_TIMEOUT = 5.0


def ordering_key(event: LiveEvent) -> str:
    """Events with the same key keep their order: those of one call, or of one account."""
    return str(event.data.get("call_id") or event.data.get("account_id") or event.kind)


def monitor_event(event: LiveEvent) -> dict[str, Any]:
    """The JSON object the monitor page receives: the event's data plus its type and time."""
    return {**event.data, "type": event.kind, "at": event.at}


class PlatformEventSink:
    """``sipcore.events.EventSink`` for the platform; create and use it on the worker's loop."""

    def __init__(
        self,
        *,
        backlog: int = DEFAULT_EVENT_BACKLOG,
        lanes: int = EVENT_LANES,
        worker_id: str | None = None,
        outbox: Path | None = None,
        max_outbox_rows: int | None = None,
        batch_delay: float = DEFAULT_BATCH_DELAY,
    ) -> None:
        """``outbox`` defaults to ``outbox-<worker_id>.sqlite3`` in ``settings.VAR_DIR`` (without
        a worker id, ``embedded-<pid>``: a later process adopts what it left) and
        ``max_outbox_rows`` to ``settings.SIP_OUTBOX_MAX_ROWS``."""
        self._lanes: list[asyncio.Queue[LiveEvent]] = [
            asyncio.Queue(max(1, backlog // lanes)) for _ in range(lanes)
        ]
        self._senders: list[asyncio.Task[None]] = []
        self._batch_delay = batch_delay
        self.outbox = Outbox(
            outbox or outbox_path(Path(settings.VAR_DIR), worker_id or f"embedded-{os.getpid()}"),
            max_rows=max_outbox_rows or settings.SIP_OUTBOX_MAX_ROWS,
        )
        self._records = OutboxCourier(self.outbox, deliver_records, name="sip-records")
        self._closed = False
        self.dropped_events = 0

    def publish(self, event: LiveEvent) -> None:
        if not self._senders:
            loop = asyncio.get_running_loop()
            self._senders = [
                loop.create_task(self._send_events(lane), name=f"monitor-events-{index}")
                for index, lane in enumerate(self._lanes)
            ]
        lane = self._lanes[hash(ordering_key(event)) % len(self._lanes)]
        try:
            lane.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped_events += 1
            if self.dropped_events % DROP_LOG_EVERY == 1:
                logger.warning(
                    "monitor backlog full: dropped %s event (%d dropped so far)",
                    event.kind,
                    self.dropped_events,
                )

    def record_call_detail(self, payload: Mapping[str, Any]) -> None:
        self._records.put((CALL_DETAIL, dict(payload)))

    def record_transfer_audit(self, payload: Mapping[str, Any]) -> None:
        self._records.put((TRANSFER_AUDIT, dict(payload)))

    async def _send_events(self, lane: asyncio.Queue[LiveEvent]) -> None:
        while True:
            batch = [await lane.get()]
            try:
                if self._batch_delay > 0:
                    await asyncio.sleep(self._batch_delay)
                while len(batch) < MAX_EVENT_BATCH and not lane.empty():
                    batch.append(lane.get_nowait())
                await self._publish_batch(batch)
            finally:
                for _ in batch:
                    lane.task_done()

    @staticmethod
    async def _publish_batch(batch: list[LiveEvent]) -> None:
        """Send the events the monitor can show; log (and drop) the others."""
        valid: list[tuple[int | None, dict[str, Any]]] = []
        for event in batch:
            message = monitor_event(event)
            try:
                validate_publication(event.customer_id, message)
            except ValueError:
                logger.exception("could not publish %s to the monitor", event.kind)
                continue
            valid.append((event.customer_id, message))
        if not valid:
            return
        try:
            await publish_events(valid)
        except Exception:
            kinds = sorted({message["type"] for _, message in valid})
            logger.exception(
                "could not publish %d events (%s) to the monitor", len(valid), ", ".join(kinds)
            )

    async def close(self, timeout: float = DEFAULT_CLOSE_TIMEOUT) -> None:
        """Send what is queued (events for up to ``timeout`` seconds), then stop.

        Records are never abandoned: closing stores the queued ones in the outbox and tries
        once more to deliver them (in the embedded default, to write them); what the broker
        does not take stays on disk for the next start.
        Closing twice is harmless.
        """
        if self._closed:
            return
        self._closed = True
        if self._senders:
            try:
                await asyncio.wait_for(
                    asyncio.gather(*(lane.join() for lane in self._lanes)), timeout
                )
            except TimeoutError:
                unsent = sum(lane.qsize() for lane in self._lanes)
                logger.warning("monitor: %d events not sent at exit", unsent)
            for sender in self._senders:
                sender.cancel()
            await asyncio.gather(*self._senders, return_exceptions=True)
            self._senders = []
        await asyncio.to_thread(self._records.close)


def deliver_records(batch: list[Record]) -> None:
    """Hand ``batch`` to Celery; returns once the broker accepted it, or raises.

    In the embedded default (``CELERY_TASK_ALWAYS_EAGER``) there is no broker: the rows are
    written right here, on a connection of this call's own (a database error raises and the
    outbox keeps them for the next attempt, on a fresh connection).
    """
    if record_batch.app.conf.task_always_eager:
        try:
            write_records(batch)
        finally:
            connections.close_all()
    else:
        record_batch.apply_async(args=[batch], retry=False)
