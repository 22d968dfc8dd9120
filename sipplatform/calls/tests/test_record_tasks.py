"""The record-writing tasks: idempotent on the worker's keys, partial updates merge, bad
payloads are dropped without a row, and submission waits for the transaction to commit."""

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import OperationalError, connection, transaction

from sipplatform.calls import services
from sipplatform.calls.models import CallDetailRecord, TransferAuditRecord
from sipplatform.calls.tasks import record_call_detail, record_transfer_audit
from sipplatform.customers.services import create_customer

START = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def leg_payload(customer_id: int | None = None, leg_id: str = "leg-1") -> dict:
    return services.call_detail_payload(
        leg_id=leg_id,
        call_id="abc@192.0.2.1",
        direction="out",
        created_at=START,
        customer_id=customer_id,
        from_header="<sip:alice@example.test>;tag=1",
        to_header="<sip:+442071234567@example.test>",
        destination="+442071234567@trunk",
    )


def transfer_payload(customer_id: int | None = None, **fields) -> dict:
    return services.transfer_audit_payload(
        transfer_id="xfer-1",
        requested_at=START,
        customer_id=customer_id,
        call_id="abc@192.0.2.1",
        refer_to="<sip:carol@example.test>",
        kind="blind",
        policy="c",
        policy_source="account",
        decision="processed",
        **fields,
    )


def test_a_duplicated_call_detail_task_writes_one_row(db):
    customer = create_customer("Acme")

    record_call_detail.delay(leg_payload(customer.pk))
    record_call_detail.delay(leg_payload(customer.pk))

    record = CallDetailRecord.objects.get()
    assert record.customer == customer
    assert record.created_at == START


def test_later_payloads_update_the_leg_without_erasing_known_values(db):
    record_call_detail.delay(leg_payload())
    answered = START + timedelta(seconds=4)
    record_call_detail.delay(
        services.call_detail_update(
            leg_id="leg-1", answered_status=200, answered_at=answered, destination=None
        )
    )
    record_call_detail.delay(
        services.call_detail_update(leg_id="leg-1", duration_seconds=61, hangup_reason="BYE")
    )

    record = CallDetailRecord.objects.get()
    assert (record.answered_status, record.answered_at) == (200, answered)
    assert (record.duration_seconds, record.hangup_reason) == (61, "BYE")
    assert record.destination == "+442071234567@trunk"


def test_a_duplicated_transfer_audit_task_writes_one_row(db):
    customer = create_customer("Acme")

    record_transfer_audit.delay(transfer_payload(customer.pk))
    record_transfer_audit.delay(
        transfer_payload(
            customer.pk, notify_statuses=[100, 180, 200], outcome="completed", final_status=200
        )
    )

    record = TransferAuditRecord.objects.get()
    assert record.notify_statuses == [100, 180, 200]
    assert (record.outcome, record.final_status) == ("completed", 200)


@pytest.mark.parametrize(
    "payload",
    [
        "not a dict",
        {"call_id": "x"},
        {"leg_id": "", "call_id": "x", "direction": "out", "created_at": START.isoformat()},
        {"leg_id": "l", "call_id": "x", "direction": "sideways", "created_at": START.isoformat()},
        {"leg_id": "l", "call_id": "x", "direction": "out", "created_at": "yesterday"},
        {"leg_id": "l", "call_id": "x", "direction": "out", "created_at": "2026-11-26T08:00:00"},
        {"leg_id": "l", "direction": "out", "created_at": START.isoformat()},
        {
            "leg_id": "l",
            "call_id": "x",
            "direction": "out",
            "created_at": START.isoformat(),
            "id": 7,
        },
        {
            "leg_id": "l",
            "call_id": "x",
            "direction": "out",
            "created_at": START.isoformat(),
            "answered_status": -1,
        },
    ],
)
def test_a_bad_call_detail_payload_is_logged_and_dropped(db, caplog, payload):
    with caplog.at_level(logging.ERROR, logger="sipplatform.calls.tasks"):
        result = record_call_detail.delay(payload)

    assert result.successful()
    assert "dropped call detail payload" in caplog.text
    assert not CallDetailRecord.objects.exists()


def test_a_bad_transfer_payload_is_dropped(db, caplog):
    with caplog.at_level(logging.ERROR, logger="sipplatform.calls.tasks"):
        record_transfer_audit.delay(transfer_payload(notify_statuses=[{"nested": 1}]))

    assert "notify_statuses" in caplog.text
    assert not TransferAuditRecord.objects.exists()


def test_a_deleted_account_is_recorded_as_unknown_not_dropped(db, caplog):
    record_call_detail.delay(leg_payload() | {"account_id": 987654})

    assert CallDetailRecord.objects.get().account is None
    assert "no longer exists" in caplog.text


def test_over_long_text_is_cut_to_the_column_not_dropped(db):
    record_call_detail.delay(
        leg_payload() | {"from_header": "x" * 5000, "bridged_call_id": "y" * 300}
    )

    record = CallDetailRecord.objects.get()
    assert (len(record.from_header), len(record.bridged_call_id)) == (1024, 255)


def test_naive_datetimes_are_refused_when_building_a_payload():
    with pytest.raises(services.PayloadError, match="naive"):
        services.call_detail_payload(
            leg_id="l", call_id="c", direction="in", created_at=datetime(2026, 1, 1)
        )


def test_submission_waits_for_the_commit(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        services.submit_call_detail(leg_payload())
        assert not CallDetailRecord.objects.exists()

    assert len(callbacks) == 1
    assert CallDetailRecord.objects.count() == 1


async def test_async_submission_from_the_event_loop(transactional_db):
    await services.asubmit_transfer_audit(transfer_payload())

    assert await TransferAuditRecord.objects.acount() == 1
    await sync_to_async(close_this_threads_connection)()


def close_this_threads_connection() -> None:
    """The ORM's sync thread keeps its connection open; the test database must be dropped."""
    connection.close()


def test_tasks_acknowledge_late_and_retry_database_errors_with_back_off():
    for task in (record_call_detail, record_transfer_audit):
        assert task.acks_late is True
        assert OperationalError in task.autoretry_for
        assert task.retry_backoff and task.max_retries


def test_a_database_error_is_retried_until_it_goes_away(db, monkeypatch):
    real_upsert = services._upsert
    failures = []

    def flaky(*args, **kwargs):
        if len(failures) < 2:
            failures.append(1)
            raise OperationalError("connection lost")
        return real_upsert(*args, **kwargs)

    monkeypatch.setattr(services, "_upsert", flaky)
    record_call_detail.delay(leg_payload())

    assert len(failures) == 2
    assert CallDetailRecord.objects.count() == 1


@pytest.mark.real
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="concurrent writers need PostgreSQL (SQLite's shared-cache test database locks tables)",
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_still_write_one_row():
    payloads = [leg_payload(leg_id="leg-race")] * 8

    def write(payload: dict) -> None:
        try:
            services.record_call_detail(payload)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(write, payloads))

    assert CallDetailRecord.objects.filter(leg_id="leg-race").count() == 1
