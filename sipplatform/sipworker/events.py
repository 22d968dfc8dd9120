"""``PlatformEventSink``: the SIP worker's live events to the channel layer, records to Celery.

Both halves return at once, as ``sipcore.events.EventSink`` demands, and keep their order:

* Live events go into a bounded queue drained by one task on the worker's event loop, which
  hands each to ``sipplatform.monitor.events.publish_event``. One sender keeps a call's
  ``call.new``, ``call.ringing``, ``call.answered``, ``call.ended`` in order on the monitor;
  a full queue (the channel layer is down or slower than the calls) drops the event with a
  warning instead of growing without bound or holding up a call.
* Records go to ``sipplatform.calls.services.submit_*``, which queue the Celery task after
  commit. Queuing talks to the broker and, in the embedded default
  (``CELERY_TASK_ALWAYS_EAGER``), writes the row right there, so it runs on one thread of its
  own: never on the loop, and in the order the worker produced the payloads (a record's later
  updates never overtake its creation).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import connections

from sipcore.events import LiveEvent
from sipplatform.calls.services import submit_call_detail, submit_transfer_audit
from sipplatform.monitor.events import publish_event

logger = logging.getLogger(__name__)

DEFAULT_EVENT_BACKLOG = 10_000
DEFAULT_CLOSE_TIMEOUT = 5.0


def monitor_event(event: LiveEvent) -> dict[str, Any]:
    """The JSON object the monitor page receives: the event's data plus its type and time."""
    return {**event.data, "type": event.kind, "at": event.at}


class PlatformEventSink:
    """``sipcore.events.EventSink`` for the platform; create and use it on the worker's loop."""

    def __init__(self, *, backlog: int = DEFAULT_EVENT_BACKLOG) -> None:
        self._events: asyncio.Queue[LiveEvent] = asyncio.Queue(backlog)
        self._sender: asyncio.Task[None] | None = None
        self._records = ThreadPoolExecutor(1, thread_name_prefix="sip-records")
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
        self._submit(submit_call_detail, payload)

    def record_transfer_audit(self, payload: Mapping[str, Any]) -> None:
        self._submit(submit_transfer_audit, payload)

    def _submit(self, submit: Callable[[dict[str, Any]], None], payload: Mapping[str, Any]) -> None:
        self._records.submit(_run_logged, submit, dict(payload))

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
        self._records.submit(connections.close_all)
        await asyncio.to_thread(self._records.shutdown, wait=True)


def _run_logged(submit: Callable[[dict[str, Any]], None], payload: dict[str, Any]) -> None:
    """Run one submission on the records thread; a failure is logged, never lost silently."""
    try:
        submit(payload)
    except Exception:
        logger.exception("could not queue record %s", payload)
