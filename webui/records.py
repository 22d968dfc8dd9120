"""Call detail and transfer audit records as the portal lists, exports and explains them.

The querysets arrive already scoped to the user (``webui.scope``); this module only applies
the filters, streams CSV rows and builds a transfer's timeline.
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from itertools import islice
from typing import Any

from asgiref.sync import sync_to_async
from django.db.models import Q, QuerySet
from django.utils import timezone

from sipplatform.calls.models import TransferAuditRecord

CALL_CSV_COLUMNS = [
    ("created_at", "Created (UTC)"),
    ("customer", "Customer"),
    ("direction", "Direction"),
    ("account", "Account"),
    ("provider", "Provider"),
    ("from_header", "From"),
    ("to_header", "To"),
    ("destination", "Dialled destination"),
    ("call_id", "Call-ID"),
    ("progress_status", "Progress status"),
    ("answered_status", "Answered status"),
    ("answered_at", "Answered (UTC)"),
    ("duration_seconds", "Duration (s)"),
    ("hungup_at", "Hung up (UTC)"),
    ("hangup_reason", "Hangup reason"),
]
TRANSFER_CSV_COLUMNS = [
    ("requested_at", "Requested (UTC)"),
    ("customer", "Customer"),
    ("account", "Account"),
    ("kind", "Kind"),
    ("transferor", "Transferor"),
    ("transferee", "Transferee"),
    ("refer_to", "Refer-To"),
    ("target", "Target"),
    ("policy", "Policy"),
    ("policy_source", "Policy source"),
    ("decision", "Decision"),
    ("reason", "Reason"),
    ("notify_statuses", "NOTIFY statuses"),
    ("outcome", "Outcome"),
    ("final_status", "Final status"),
    ("call_id", "Call-ID"),
]


def _day_range(filters: dict[str, Any], field: str) -> Q:
    query = Q()
    if filters.get("date_from"):
        start = timezone.make_aware(datetime.combine(filters["date_from"], time.min))
        query &= Q(**{f"{field}__gte": start})
    if filters.get("date_to"):
        end = timezone.make_aware(datetime.combine(filters["date_to"], time.min))
        query &= Q(**{f"{field}__lt": end + timedelta(days=1)})
    return query


def filter_calls(records: QuerySet, filters: dict[str, Any]) -> QuerySet:
    """Call detail records matching a cleaned ``CallFilterForm``."""
    records = records.filter(_day_range(filters, "created_at"))
    if filters.get("direction"):
        records = records.filter(direction=filters["direction"])
    if filters.get("account"):
        records = records.filter(account=filters["account"])
    if filters.get("number"):
        records = records.matching_number(filters["number"])
    if filters.get("outcome") == "answered":
        records = records.answered()
    elif filters.get("outcome") == "unanswered":
        records = records.filter(answered_at__isnull=True)
    return records.select_related("customer", "account__domain", "provider")


def filter_transfers(records: QuerySet, filters: dict[str, Any]) -> QuerySet:
    """Transfer audit records matching a cleaned ``TransferFilterForm``."""
    records = records.filter(_day_range(filters, "requested_at"))
    for name in ("kind", "outcome", "account"):
        if filters.get(name):
            records = records.filter(**{name: filters[name]})
    if filters.get("number"):
        records = records.matching_number(filters["number"])
    return records.select_related("customer", "account__domain")


class _Echo:
    """A file whose ``write`` returns the line: lets ``csv.writer`` feed a streaming response."""

    def write(self, value: str) -> str:
        return value


def _cell(record: Any, name: str) -> str:
    value = getattr(record, name)
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, list):
        return " ".join(str(item) for item in value)
    if name == "account":
        return value.aor
    return str(value)


def csv_rows(records: QuerySet, columns: list[tuple[str, str]]) -> Iterator[str]:
    """The header line, then one line per record, read from the database in chunks."""
    writer = csv.writer(_Echo())
    yield writer.writerow([title for _, title in columns])
    for record in records.iterator(chunk_size=500):
        yield writer.writerow([_neutralise(_cell(record, name)) for name, _ in columns])


async def acsv_rows(
    records: QuerySet, columns: list[tuple[str, str]], lines_per_chunk: int = 500
) -> AsyncIterator[str]:
    """:func:`csv_rows` for an ASGI server: the database is read on Django's sync thread, a
    chunk of lines at a time, so a large export streams instead of being built in memory."""
    lines = csv_rows(records, columns)
    take = sync_to_async(lambda: "".join(islice(lines, lines_per_chunk)))
    while chunk := await take():
        yield chunk


def _neutralise(text: str) -> str:
    """Keep a spreadsheet from running a cell as a formula (a From header is caller-chosen)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@dataclass(frozen=True, slots=True, kw_only=True)
class TimelineStep:
    title: str
    detail: str
    at: datetime | None = None
    tone: str = ""  # "ok", "bad" or "" for the badge colour


def transfer_timeline(record: TransferAuditRecord) -> list[TimelineStep]:
    """The steps of one transfer: REFER, decision and its policy source, NOTIFYs, outcome."""
    refer_detail = f"Refer-To {record.refer_to}"
    if record.replaces:
        refer_detail += f" (Replaces {record.replaces})"
    if record.referred_by:
        refer_detail += f", Referred-By {record.referred_by}"
    steps = [
        TimelineStep(
            title=f"{record.get_kind_display()} REFER from {record.transferor or 'the transferor'}",
            detail=refer_detail,
            at=record.requested_at,
        ),
        TimelineStep(
            title=f"Decision: {record.get_decision_display().lower()}",
            detail=(
                f"Policy {record.policy} from the {record.get_policy_source_display()}"
                + (f": {record.reason}" if record.reason else "")
            ),
            at=record.decided_at,
            tone="bad" if record.decision == TransferAuditRecord.Decision.REJECTED else "ok",
        ),
    ]
    steps += [
        TimelineStep(title=f"NOTIFY {status}", detail=_sipfrag(status))
        for status in map(str, record.notify_statuses)
    ]
    if record.outcome != TransferAuditRecord.Outcome.PENDING:
        final = f"final status {record.final_status}" if record.final_status else ""
        target = f"target {record.target}" if record.target else ""
        steps.append(
            TimelineStep(
                title=f"Outcome: {record.get_outcome_display().lower()}",
                detail=", ".join(part for part in (final, target) if part),
                at=record.completed_at,
                tone="ok" if record.outcome == TransferAuditRecord.Outcome.COMPLETED else "bad",
            )
        )
    return steps


_REASONS = {
    "100": "Trying",
    "180": "Ringing",
    "183": "Session Progress",
    "200": "OK",
    "403": "Forbidden",
    "404": "Not Found",
    "408": "Request Timeout",
    "480": "Temporarily Unavailable",
    "486": "Busy Here",
    "487": "Request Terminated",
    "503": "Service Unavailable",
    "603": "Decline",
}


def _sipfrag(status: str) -> str:
    reason = _REASONS.get(status, "")
    return f"sipfrag SIP/2.0 {status} {reason}".rstrip()
