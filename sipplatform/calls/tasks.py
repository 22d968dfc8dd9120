"""Celery tasks writing call records: thin, idempotent, late-acknowledged, retried with back-off.

A payload that cannot be written (malformed, missing fields) is logged and dropped: retrying
it would fail the same way forever. Database and broker hiccups are retried.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from sipplatform.calls import services

logger = logging.getLogger(__name__)

RETRY_OPTIONS = {
    "acks_late": True,
    "autoretry_for": (OperationalError, InterfaceError, ConnectionError),
    "retry_backoff": 2,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 12,
}


@shared_task(**RETRY_OPTIONS)
def record_call_detail(payload: dict) -> None:
    try:
        services.record_call_detail(payload)
    except services.PayloadError as exc:
        logger.error("dropped call detail payload: %s", exc)


@shared_task(**RETRY_OPTIONS)
def record_transfer_audit(payload: dict) -> None:
    try:
        services.record_transfer_audit(payload)
    except services.PayloadError as exc:
        logger.error("dropped transfer audit payload: %s", exc)
