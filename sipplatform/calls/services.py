"""Call and transfer records: payloads from worker events, submission, and the idempotent write.

A payload is a JSON-safe dict (``call_detail_payload``, ``transfer_audit_payload`` build
one). ``submit_*`` (``asubmit_*`` from the event loop) queues one Celery task per record after
the current transaction commits; the SIP worker instead sends its records in batches
(``sipplatform.sipworker.tasks.record_batch``). Either task calls ``record_call_detail`` /
``record_transfer_audit``, which validate the payload and upsert the row keyed on ``leg_id`` /
``transfer_id``. Payloads may be partial updates of a known record: ``None`` and absent keys
leave stored values alone.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any

from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from sipplatform.calls.models import CallDetailRecord, TransferAuditRecord

logger = logging.getLogger(__name__)

CALL_DETAIL_REQUIRED = frozenset({"call_id", "direction", "created_at"})
TRANSFER_AUDIT_REQUIRED = frozenset(
    {"requested_at", "call_id", "refer_to", "kind", "policy", "policy_source", "decision"}
)


class PayloadError(ValueError):
    """A record payload that can never be written: retrying it would not help."""


def _json_safe(values: Mapping[str, Any]) -> dict[str, Any]:
    payload = {}
    for name, value in values.items():
        if isinstance(value, datetime):
            if timezone.is_naive(value):
                raise PayloadError(f"{name}: naive datetime; pass an aware one")
            value = value.isoformat()
        elif isinstance(value, models.Model):
            raise PayloadError(f"{name}: pass the object's id ({name}_id), not the object")
        payload[name] = value
    return payload


def call_detail_payload(
    *, leg_id: str, call_id: str, direction: str, created_at: datetime, **fields: Any
) -> dict[str, Any]:
    """A JSON-safe payload creating a call detail record; ``fields`` name more model fields
    (``customer_id``, ``account_id``, ``provider_id``, ``answered_at``, ...)."""
    return _json_safe(
        {"leg_id": leg_id, "call_id": call_id, "direction": direction, "created_at": created_at}
        | fields
    )


def call_detail_update(*, leg_id: str, **fields: Any) -> dict[str, Any]:
    """A JSON-safe payload updating a known leg (progress, answer, hangup)."""
    return _json_safe({"leg_id": leg_id} | fields)


def transfer_audit_payload(*, transfer_id: str, **fields: Any) -> dict[str, Any]:
    """A JSON-safe transfer audit payload; the first one for a transfer must carry the fields in
    ``TRANSFER_AUDIT_REQUIRED``, later ones may update any field (``notify_statuses`` whole)."""
    return _json_safe({"transfer_id": transfer_id} | fields)


def submit_call_detail(payload: dict[str, Any]) -> None:
    """Queue the call detail write after the current transaction commits."""
    from sipplatform.calls.tasks import record_call_detail

    transaction.on_commit(partial(record_call_detail.delay, payload), robust=True)


def submit_transfer_audit(payload: dict[str, Any]) -> None:
    """Queue the transfer audit write after the current transaction commits."""
    from sipplatform.calls.tasks import record_transfer_audit

    transaction.on_commit(partial(record_transfer_audit.delay, payload), robust=True)


asubmit_call_detail = sync_to_async(submit_call_detail)
asubmit_transfer_audit = sync_to_async(submit_transfer_audit)


def record_call_detail(payload: object) -> CallDetailRecord:
    """Create or update the call detail record of ``payload["leg_id"]``."""
    return _upsert(CallDetailRecord, "leg_id", payload, CALL_DETAIL_REQUIRED)


def record_transfer_audit(payload: object) -> TransferAuditRecord:
    """Create or update the transfer audit record of ``payload["transfer_id"]``."""
    return _upsert(TransferAuditRecord, "transfer_id", payload, TRANSFER_AUDIT_REQUIRED)


def _upsert(
    model: type[models.Model], key_name: str, payload: object, required: frozenset[str]
) -> Any:
    if not isinstance(payload, Mapping):
        raise PayloadError(f"payload is a {type(payload).__name__}, not an object")
    key = payload.get(key_name)
    if not isinstance(key, str) or not key or len(key) > 128:
        raise PayloadError(f"{key_name} must be a non-empty string of at most 128 characters")
    fields = _clean_fields(model, {k: v for k, v in payload.items() if k != key_name})
    with transaction.atomic():
        if not model.objects.filter(**{key_name: key}).exists():
            missing = required - fields.keys()
            if missing:
                raise PayloadError(f"a new record needs {', '.join(sorted(missing))}")
        record, _ = model.objects.update_or_create(defaults=fields, **{key_name: key})
    return record


def _clean_fields(model: type[models.Model], values: Mapping[str, Any]) -> dict[str, Any]:
    """Payload values converted and validated by the model's own fields; ``None`` dropped.

    Over-long free text (a huge From header) is cut to the column's size rather than costing
    the whole record.
    """
    writable = {
        field.attname: field
        for field in model._meta.concrete_fields
        if not field.primary_key and not field.unique
    }
    unknown = sorted(set(values) - writable.keys())
    if unknown:
        raise PayloadError(f"unknown fields: {', '.join(unknown)}")
    cleaned = {}
    for attname, raw in values.items():
        if raw is None:
            continue
        field = writable[attname]
        if isinstance(raw, str) and isinstance(field, models.CharField) and not field.choices:
            raw = raw[: field.max_length]
        try:
            if field.is_relation:
                cleaned[attname] = _existing_id(field, raw)
                continue
            value = field.clean(raw, None)
        except ValidationError as exc:
            raise PayloadError(f"{attname}: {'; '.join(exc.messages)}") from None
        if isinstance(value, datetime) and timezone.is_naive(value):
            raise PayloadError(f"{attname}: the time needs a UTC offset")
        if isinstance(field, models.JSONField):
            _check_json_list(attname, value)
        cleaned[attname] = value
    return cleaned


def _existing_id(field: models.Field, raw: object) -> int | None:
    """The related row's id, or None (logged) when it was deleted before the record was written."""
    related_id = field.target_field.to_python(raw)
    if not field.related_model._default_manager.filter(pk=related_id).exists():
        logger.warning("%s %s no longer exists; recorded without it", field.name, related_id)
        return None
    return related_id


def _check_json_list(attname: str, value: object) -> None:
    if not isinstance(value, list) or not all(
        isinstance(item, (int, str)) and not isinstance(item, bool) for item in value
    ):
        raise PayloadError(f"{attname}: expected a list of numbers or strings")
