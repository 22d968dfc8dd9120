"""``PlatformEventSink``: the SIP worker's live events to the channel layer, records to Celery.

Both halves return at once, as ``sipcore.events.EventSink`` demands, and keep their order:

* Live events go into a bounded queue drained by one task on the worker's event loop, which
  hands each to ``sipplatform.monitor.events.publish_event``. One sender keeps a call's
  ``call.new``, ``call.ringing``, ``call.answered``, ``call.ended`` in order on the monitor;
  a full queue (the channel layer is down or slower than the calls) drops the event with a
  warning instead of growing without bound or holding up a call.
* Records go to one thread of their own, which sends whatever has queued up as one
  ``record_batch`` Celery task (``tasks``), after commit. Sending talks to the broker and, in
  the embedded default (``CELERY_TASK_ALWAYS_EAGER``), writes the rows right there, so it never
  runs on the loop; one sender keeps the order the worker produced the payloads in (a
  record's later updates never overtake its creation).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Mapping
from functools import partial
from typing import Any

from django.db import connections, transaction

from sipcore.events import LiveEvent
from sipplatform.monitor.events import publish_event
from sipplatform.sipworker.tasks import CALL_DETAIL, TRANSFER_AUDIT, record_batch

logger = logging.getLogger(__name__)

DEFAULT_EVENT_BACKLOG = 10_000
DEFAULT_CLOSE_TIMEOUT = 5.0
MAX_RECORD_BATCH = 200


def monitor_event(event: LiveEvent) -> dict[str, Any]:
    """The JSON object the monitor page receives: the event's data plus its type and time."""
    return {**event.data, "type": event.kind, "at": event.at}


class PlatformEventSink:
    """``sipcore.events.EventSink`` for the platform; create and use it on the worker's loop."""

    def __init__(self, *, backlog: int = DEFAULT_EVENT_BACKLOG) -> None:
        self._events: asyncio.Queue[LiveEvent] = asyncio.Queue(backlog)
        self._sender: asyncio.Task[None] | None = None
        self._records: queue.SimpleQueue[tuple[str, dict[str, Any]] | None] = queue.SimpleQueue()
        self._records_sender = threading.Thread(
            target=self._send_records, name="sip-records", daemon=True
        )
        self._records_sender.start()
        self._closed = False
        self.dropped_events = 0

    def publish(self, event: LiveEvent) -> None:
        if self._sender is None:
            self._sender = asyncio.get_running_loop().create_task(
                self._send_events(), name="monitor-events"
            )
        try:
            self._events.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped_events += 1
            logger.warning("monitor backlog full: dropped %s event", event.kind)

    def record_call_detail(self, payload: Mapping[str, Any]) -> None:
        self._records.put((CALL_DETAIL, dict(payload)))

    def record_transfer_audit(self, payload: Mapping[str, Any]) -> None:
        self._records.put((TRANSFER_AUDIT, dict(payload)))

    def _send_records(self) -> None:
        """The records thread: one batch per wake-up, until ``close`` queues the end (None)."""
        try:
            finished = False
            while not finished:
                batch: list[tuple[str, dict[str, Any]]] = []
                record = self._records.get()
                while record is not None:
                    batch.append(record)
                    if len(batch) >= MAX_RECORD_BATCH:
                        break
                    try:
                        record = self._records.get_nowait()
                    except queue.Empty:
                        break
                finished = record is None
                if batch:
                    _send_batch(batch)
        finally:
            connections.close_all()

    async def _send_events(self) -> None:
        while True:
            event = await self._events.get()
            try:
                await publish_event(event.customer_id, monitor_event(event))
            except Exception:
                logger.exception("could not publish %s to the monitor", event.kind)
            finally:
                self._events.task_done()

    async def close(self, timeout: float = DEFAULT_CLOSE_TIMEOUT) -> None:
        """Send what is queued (events for up to ``timeout`` seconds), then stop.

        Records are never abandoned: closing waits for the queued ones to reach Celery (in the
        embedded default, the database), then closes the records thread's connection.
        Closing twice is harmless.
        """
        if self._closed:
            return
        self._closed = True
        if self._sender is not None:
            try:
                await asyncio.wait_for(self._events.join(), timeout)
            except TimeoutError:
                logger.warning("monitor: %d events not sent at exit", self._events.qsize())
            self._sender.cancel()
            await asyncio.gather(self._sender, return_exceptions=True)
            self._sender = None
        self._records.put(None)
        await asyncio.to_thread(self._records_sender.join)


def _send_batch(batch: list[tuple[str, dict[str, Any]]]) -> None:
    """Queue one ``record_batch`` task after commit; a failure is logged, never lost silently."""
    try:
        transaction.on_commit(partial(record_batch.delay, batch))
    except Exception:
        logger.exception("could not queue %d records: %.500r", len(batch), batch)
