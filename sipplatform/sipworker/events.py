"""``PlatformEventSink``: the SIP worker's live events to the channel layer, records to Celery.

Both halves return at once, as ``sipcore.events.EventSink`` demands, and keep their order:

* Live events go into bounded queues ("lanes") on the worker's event loop, each drained by
  one task handing its events to ``sipplatform.monitor.events.publish_event``. A call's events
  share a lane (chosen by its Call-ID), so its ``call.new``, ``call.ringing``,
  ``call.answered``, ``call.ended`` reach the monitor in order, while other calls' events go
  out at the same time on other lanes (each send waits on a few Redis round trips). A full
  lane (the channel layer is down or slower than the calls) drops the event with a warning
  instead of growing without bound or holding up a call.
* Records go to one thread of their own, which first stores them in the worker's durable
  outbox (``outbox``: a local SQLite file) and then sends the stored ones, in order, as
  ``record_batch`` Celery tasks of up to ``MAX_RECORD_BATCH`` records (those arriving within
  50 ms of each other share one). A row leaves the outbox only once the broker accepted its
  message; in the embedded default (``CELERY_TASK_ALWAYS_EAGER``) the thread writes the rows
  itself and a row leaves once written. While the broker (or, embedded, the database) is
  away, records pile up on disk and the thread tries again with growing back-off; rows left
  by a previous run (SIGKILL, crash) go out first. Sending talks to the broker or the
  database, so it never runs on the loop; one sender keeps the order the worker produced the
  payloads in.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections

from sipcore.events import LiveEvent
from sipplatform.monitor.events import publish_event
from sipplatform.sipworker.outbox import DEFAULT_MAX_ROWS, Outbox, Record, outbox_path
from sipplatform.sipworker.tasks import CALL_DETAIL, TRANSFER_AUDIT, record_batch, write_records

logger = logging.getLogger(__name__)

DEFAULT_EVENT_BACKLOG = 10_000
EVENT_LANES = 4
DROP_LOG_EVERY = 1000
"""An overloaded channel layer drops events by the thousand: log the first of each thousand."""
DEFAULT_CLOSE_TIMEOUT = 5.0
MAX_RECORD_BATCH = 200
RECORD_LINGER = 0.05
FIRST_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 10.0
"""Back-off between delivery attempts while the broker is away: at most this long after it
returns, the records waiting on disk go out."""


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
    ) -> None:
        """``outbox`` defaults to ``outbox-<worker_id>.sqlite3`` in ``settings.VAR_DIR`` (without
        a worker id, ``embedded-<pid>``: a later process adopts what it left) and
        ``max_outbox_rows`` to ``settings.SIP_OUTBOX_MAX_ROWS`` (500,000 when unset)."""
        self._lanes: list[asyncio.Queue[LiveEvent]] = [
            asyncio.Queue(max(1, backlog // lanes)) for _ in range(lanes)
        ]
        self._senders: list[asyncio.Task[None]] = []
        self._records: queue.SimpleQueue[Record | None] = queue.SimpleQueue()
        self.outbox = Outbox(
            outbox or outbox_path(Path(settings.VAR_DIR), worker_id or f"embedded-{os.getpid()}"),
            max_rows=max_outbox_rows or getattr(settings, "SIP_OUTBOX_MAX_ROWS", DEFAULT_MAX_ROWS),
        )
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
        """The records thread: store, then deliver, until ``close`` queues the end (None).

        Rows of stopped workers and of this worker's previous run go first. A failed delivery
        keeps its rows and waits (``FIRST_RETRY_DELAY`` doubling up to ``MAX_RETRY_DELAY``)
        while still storing the records that arrive meanwhile.
        """
        try:
            self.outbox.adopt_orphans()
            delay = 0.0
            retry_at = 0.0
            finished = False
            while not finished:
                wait = None
                if len(self.outbox):
                    wait = max(0.0, retry_at - time.monotonic())
                batch, finished = self._collect(wait)
                if batch:
                    self._store(batch)
                if len(self.outbox) and (finished or time.monotonic() >= retry_at):
                    if self._deliver_oldest():
                        delay = 0.0
                    else:
                        delay = min(max(delay * 2, FIRST_RETRY_DELAY), MAX_RETRY_DELAY)
                        retry_at = time.monotonic() + delay
            if len(self.outbox):
                logger.warning(
                    "%d records stay in %s for the next start", len(self.outbox), self.outbox.path
                )
        finally:
            self.outbox.close()
            connections.close_all()

    def _collect(self, wait: float | None) -> tuple[list[Record], bool]:
        """The records that arrive within ``RECORD_LINGER`` seconds of the first (waited for
        up to ``wait`` seconds, None: for ever), and whether ``close`` was among them."""
        try:
            record = self._records.get(timeout=wait)
        except queue.Empty:
            return [], False
        batch: list[Record] = []
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
        return batch, record is None

    def _store(self, batch: list[Record]) -> None:
        """Put ``batch`` in the outbox; a disk that refuses it is logged with the records."""
        try:
            self.outbox.add(batch)
        except sqlite3.Error as exc:
            logger.critical("could not store %d records (%s): %.2000r", len(batch), exc, batch)

    def _deliver_oldest(self) -> bool:
        """Send the oldest stored records as one batch; True once they left the outbox."""
        rows = self.outbox.pending(MAX_RECORD_BATCH)
        try:
            deliver([record for _, record in rows])
        except Exception as exc:
            logger.warning(
                "could not deliver %d records (%d kept in the outbox): %s",
                len(rows),
                len(self.outbox),
                exc,
            )
            return False
        self.outbox.remove([row_id for row_id, _ in rows])
        return True

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
        self._records.put(None)
        await asyncio.to_thread(self._records_sender.join)


def deliver(batch: list[Record]) -> None:
    """Hand ``batch`` to Celery; returns once the broker accepted it, or raises.

    In the embedded default (``CELERY_TASK_ALWAYS_EAGER``) there is no broker: the rows are
    written right here, and a database error raises (after closing the broken connection) so
    the outbox keeps them for the next attempt.
    """
    if record_batch.app.conf.task_always_eager:
        try:
            write_records(batch)
        except Exception:
            connections.close_all()
            raise
    else:
        record_batch.apply_async(args=[batch], retry=False)
