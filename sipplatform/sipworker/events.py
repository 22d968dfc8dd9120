"""``PlatformEventSink``: the SIP worker's live events to the channel layer, records to Celery.

Both halves return at once, as ``sipcore.events.EventSink`` demands, and keep their order:

* Live events go into bounded queues ("lanes") on the worker's event loop, each drained by
  one task handing its events to ``sipplatform.monitor.events.publish_event``. A call's events
  share a lane (chosen by its Call-ID), so its ``call.new``, ``call.ringing``,
  ``call.answered``, ``call.ended`` reach the monitor in order, while other calls' events go
  out at the same time on other lanes (each send waits on a few Redis round trips). A full
  lane (the channel layer is down or slower than the calls) drops the event with a warning
  instead of growing without bound or holding up a call.
* Records go to one thread of their own, which sends those that arrive within 50 ms of each
  other as one ``record_batch`` Celery task (``tasks``), after commit. Sending talks to the
  broker and, in the embedded default (``CELERY_TASK_ALWAYS_EAGER``), writes the rows right
  there, so it never runs on the loop; one sender keeps the order the worker produced the
  payloads in (a record's later updates never overtake its creation).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Mapping
from functools import partial
from typing import Any

from django.db import connections, transaction

from sipcore.events import LiveEvent
from sipplatform.monitor.events import publish_event
from sipplatform.sipworker.tasks import CALL_DETAIL, TRANSFER_AUDIT, record_batch

logger = logging.getLogger(__name__)

DEFAULT_EVENT_BACKLOG = 10_000
EVENT_LANES = 4
DROP_LOG_EVERY = 1000
"""An overloaded channel layer drops events by the thousand: log the first of each thousand."""
DEFAULT_CLOSE_TIMEOUT = 5.0
MAX_RECORD_BATCH = 200
RECORD_LINGER = 0.05


def ordering_key(event: LiveEvent) -> str:
    """Events with the same key keep their order: those of one call, or of one account."""
    return str(event.data.get("call_id") or event.data.get("account_id") or event.kind)


def monitor_event(event: LiveEvent) -> dict[str, Any]:
    """The JSON object the monitor page receives: the event's data plus its type and time."""
    return {**event.data, "type": event.kind, "at": event.at}


class PlatformEventSink:
    """``sipcore.events.EventSink`` for the platform; create and use it on the worker's loop."""

    def __init__(self, *, backlog: int = DEFAULT_EVENT_BACKLOG, lanes: int = EVENT_LANES) -> None:
        self._lanes: list[asyncio.Queue[LiveEvent]] = [
            asyncio.Queue(max(1, backlog // lanes)) for _ in range(lanes)
        ]
        self._senders: list[asyncio.Task[None]] = []
        self._records: queue.SimpleQueue[tuple[str, dict[str, Any]] | None] = queue.SimpleQueue()
        self._records_sender = threading.Thread(
            target=self._send_records, name="sip-records", daemon=True
        )
        self._records_sender.start()
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

    def _send_records(self) -> None:
        """The records thread: batches until ``close`` queues the end (None).

        A batch is what arrives within ``RECORD_LINGER`` seconds of its first record (or
        ``MAX_RECORD_BATCH`` records): a record reaches the database a moment later, and a
        busy worker sends one broker message per many call legs instead of one each.
        """
        try:
            finished = False
            while not finished:
                record = self._records.get()
                batch: list[tuple[str, dict[str, Any]]] = []
                deadline = time.monotonic() + RECORD_LINGER
                while record is not None:
                    batch.append(record)
                    remaining = deadline - time.monotonic()
                    if len(batch) >= MAX_RECORD_BATCH or remaining <= 0:
                        break
                    try:
                        record = self._records.get(timeout=remaining)
                    except queue.Empty:
                        break
                finished = record is None
                if batch:
                    _send_batch(batch)
        finally:
            connections.close_all()

    async def _send_events(self, lane: asyncio.Queue[LiveEvent]) -> None:
        while True:
            event = await lane.get()
            try:
                await publish_event(event.customer_id, monitor_event(event))
            except Exception:
                logger.exception("could not publish %s to the monitor", event.kind)
            finally:
                lane.task_done()

    async def close(self, timeout: float = DEFAULT_CLOSE_TIMEOUT) -> None:
        """Send what is queued (events for up to ``timeout`` seconds), then stop.

        Records are never abandoned: closing waits for the queued ones to reach Celery (in the
        embedded default, the database), then closes the records thread's connection.
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
        self._records.put(None)
        await asyncio.to_thread(self._records_sender.join)


def _send_batch(batch: list[tuple[str, dict[str, Any]]]) -> None:
    """Queue one ``record_batch`` task after commit; a failure is logged, never lost silently."""
    try:
        transaction.on_commit(partial(record_batch.delay, batch))
    except Exception:
        logger.exception("could not queue %d records: %.500r", len(batch), batch)
