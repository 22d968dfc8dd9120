"""The SIP worker's records as Celery tasks, in batches.

A busy worker ends hundreds of call legs a second; one broker message per record would cost it
more CPU than the call itself. ``record_batch`` carries every record the worker had queued at
the moment it sent (one when it is quiet) and writes each with the same idempotent services as
``sipplatform.calls.tasks`` (upserts keyed on the leg or transfer id), so a retried batch,
even one that was half written, or a batch the worker's outbox sent twice, leaves each record
once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import shared_task

from sipplatform.calls import services
from sipplatform.calls.tasks import RETRY_OPTIONS

logger = logging.getLogger(__name__)

CALL_DETAIL = "call_detail"
TRANSFER_AUDIT = "transfer_audit"
WRITERS: dict[str, Callable[[object], object]] = {
    CALL_DETAIL: services.record_call_detail,
    TRANSFER_AUDIT: services.record_transfer_audit,
}


@shared_task(**RETRY_OPTIONS)
def record_batch(records: list) -> None:
    """Write ``[[kind, payload], ...]`` in order (``write_records``).

    Acknowledged late and retried with back-off on database and connection errors
    (``RETRY_OPTIONS``): a Celery worker dying mid-batch or PostgreSQL restarting leaves the
    batch to run again, which the idempotent writers make harmless.
    """
    write_records(records)


def write_records(records: list[Any]) -> None:
    """Write each record; one that can never be written is logged and dropped without holding
    up the others. Database errors propagate: the caller tries the whole batch again."""
    for entry in records:
        try:
            kind, payload = entry
            write = WRITERS[kind]
        except (TypeError, ValueError, KeyError):
            logger.error("dropped record of unknown shape or kind: %.200r", entry)
            continue
        try:
            write(payload)
        except services.PayloadError as exc:
            logger.error("dropped %s payload: %s", kind, exc)
