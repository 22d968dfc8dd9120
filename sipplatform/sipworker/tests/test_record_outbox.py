"""The durable record outbox: records are on disk before anything is sent, leave it only once
delivered, survive a failing broker or database and a restart, stay bounded, and a record
delivered twice is still written once."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from datetime import UTC, datetime

import pytest
from django.db import OperationalError

from sipplatform.calls.models import CallDetailRecord, TransferAuditRecord
from sipplatform.calls.services import (
    call_detail_payload,
    call_detail_update,
    transfer_audit_payload,
)
from sipplatform.sipworker import events as events_module
from sipplatform.sipworker import outbox as outbox_module
from sipplatform.sipworker import tasks as tasks_module
from sipplatform.sipworker.events import PlatformEventSink, deliver_records
from sipplatform.sipworker.outbox import Outbox, outbox_path
from sipplatform.sipworker.tasks import CALL_DETAIL, TRANSFER_AUDIT, record_batch, write_records
from sipplatform.sipworker.tests.test_platform_event_sink import stored

CREATED = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
WAIT = 5


def leg(index: int) -> tuple[str, dict]:
    payload = call_detail_payload(
        leg_id=f"leg-{index}", call_id=f"c{index}@x", direction="in", created_at=CREATED
    )
    return CALL_DETAIL, payload


@pytest.fixture
def outbox(tmp_path):
    box = Outbox(tmp_path / "outbox-w1.sqlite3")
    yield box
    box.close()


class FlakyDelivery:
    """Stands in for ``deliver_records``: fails ``failures`` times (the broker is down), then writes
    the batch as the embedded default does; notes every attempt."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.attempts: list[list] = []
        self.delivered = threading.Event()

    def __call__(self, batch: list) -> None:
        self.attempts.append(batch)
        if len(self.attempts) <= self.failures:
            raise ConnectionError("broker unreachable")
        deliver_records(batch)
        self.delivered.set()


def test_records_come_back_in_order_until_removed(outbox):
    assert outbox.add([leg(0), leg(1), leg(2)]) == 3

    rows = outbox.pending(2)
    assert [record for _, record in rows] == [leg(0), leg(1)]
    outbox.remove([row_id for row_id, _ in rows])
    assert len(outbox) == 1
    assert [record for _, record in outbox.pending(10)] == [leg(2)]


def test_records_survive_a_restart(tmp_path):
    path = outbox_path(tmp_path, "w1")
    first = Outbox(path)
    first.add([leg(0), leg(1)])
    first.close()

    second = Outbox(path)
    try:
        assert len(second) == 2
        assert [record for _, record in second.pending(10)] == [leg(0), leg(1)]
    finally:
        second.close()


def test_the_outbox_is_bounded_and_says_so_loudly(tmp_path, caplog):
    box = Outbox(tmp_path / "outbox.sqlite3", max_rows=3)
    try:
        with caplog.at_level(logging.CRITICAL, logger="sipplatform.sipworker.outbox"):
            assert box.add([leg(index) for index in range(5)]) == 3
        assert len(box) == 3
        assert box.refused == 2
        assert "record outbox" in caplog.text
        assert "is full (3 rows" in caplog.text
        assert "leg-3" in caplog.text
    finally:
        box.close()


def test_a_record_that_is_not_json_is_refused_alone(outbox, caplog):
    with caplog.at_level(logging.ERROR, logger="sipplatform.sipworker.outbox"):
        stored_rows = outbox.add([leg(0), (CALL_DETAIL, {"leg_id": object()}), leg(1)])
    assert stored_rows == 2
    assert "dropped call_detail record that is not JSON" in caplog.text


def test_a_file_that_is_not_an_outbox_is_refused_clearly(tmp_path):
    path = tmp_path / "outbox-junk.sqlite3"
    path.write_bytes(b"not a database at all, just junk" * 100)
    with pytest.raises(sqlite3.DatabaseError):
        Outbox(path)


def test_a_file_in_use_cannot_be_opened_twice(outbox):
    with pytest.raises(RuntimeError, match="in use by another process"):
        Outbox(outbox.path)


def test_a_stopped_workers_rows_are_adopted_and_a_running_ones_left_alone(tmp_path):
    dead = Outbox(outbox_path(tmp_path, "host-111"))
    dead.add([leg(0), leg(1)])
    dead.close()
    running = Outbox(outbox_path(tmp_path, "host-222"))
    running.add([leg(2)])
    (tmp_path / "outbox-junk.sqlite3").write_bytes(b"junk" * 1000)
    mine = Outbox(outbox_path(tmp_path, "host-333"))
    try:
        assert mine.adopt_orphans() == 2
        assert [record for _, record in mine.pending(10)] == [leg(0), leg(1)]
        assert not outbox_path(tmp_path, "host-111").exists()
        assert len(running) == 1
    finally:
        mine.close()
        running.close()


@pytest.mark.django_db(transaction=True)
async def test_records_wait_on_disk_while_the_broker_is_down_then_go_out(tmp_path, monkeypatch):
    monkeypatch.setattr(outbox_module, "FIRST_RETRY_DELAY", 0.05)
    delivery = FlakyDelivery(failures=3)
    monkeypatch.setattr(events_module, "deliver_records", delivery)
    sink = PlatformEventSink(outbox=tmp_path / "outbox.sqlite3")
    try:
        sink.record_call_detail(leg(0)[1])
        sink.record_call_detail(leg(1)[1])
        assert await _wait(delivery.delivered)
    finally:
        await sink.close()

    assert len(delivery.attempts) == 4
    assert len(sink.outbox) == 0
    assert list(tmp_path.iterdir()) == [], "an empty outbox leaves no file"
    assert await stored(CallDetailRecord.objects.count) == 2


async def test_records_reach_the_disk_while_the_broker_hangs(tmp_path, monkeypatch):
    hanging = threading.Event()
    release = threading.Event()

    def hang(batch: list) -> None:
        hanging.set()
        release.wait(WAIT)
        raise TimeoutError("broker did not answer")

    monkeypatch.setattr(events_module, "deliver_records", hang)
    path = tmp_path / "outbox.sqlite3"
    sink = PlatformEventSink(outbox=path)
    try:
        sink.record_call_detail(leg(0)[1])
        assert await _wait(hanging)
        for index in range(1, 4):
            sink.record_call_detail(leg(index)[1])
        async with asyncio.timeout(WAIT):
            while len(sink.outbox) < 4:
                await asyncio.sleep(0.01)
    finally:
        release.set()
        await sink.close()

    reopened = Outbox(path)
    try:
        assert [record for _, record in reopened.pending(10)] == [leg(i) for i in range(4)]
    finally:
        reopened.close()


@pytest.mark.django_db(transaction=True)
async def test_records_a_worker_could_not_deliver_go_out_when_it_starts_again(
    tmp_path, monkeypatch
):
    path = tmp_path / "outbox.sqlite3"
    monkeypatch.setattr(events_module, "deliver_records", FlakyDelivery(failures=1000))
    down = PlatformEventSink(outbox=path)
    down.record_call_detail(leg(0)[1])
    down.record_call_detail(call_detail_update(leg_id="leg-0", hangup_reason="BYE"))
    await down.close()
    assert await stored(CallDetailRecord.objects.count) == 0
    assert len(down.outbox) == 2

    delivery = FlakyDelivery()
    monkeypatch.setattr(events_module, "deliver_records", delivery)
    restarted = PlatformEventSink(outbox=path)
    try:
        assert await _wait(delivery.delivered)
    finally:
        await restarted.close()
    record = await stored(lambda: CallDetailRecord.objects.get(leg_id="leg-0"))
    assert record.hangup_reason == "BYE"


@pytest.mark.django_db(transaction=True)
async def test_records_sent_twice_after_a_crash_are_written_once(tmp_path, monkeypatch):
    """The worker dies after the broker took a batch and before the rows were deleted: the
    next start sends them again, and the idempotent writers leave each record once."""
    path = tmp_path / "outbox.sqlite3"
    delivery = FlakyDelivery()
    monkeypatch.setattr(events_module, "deliver_records", delivery)

    def crash(self: Outbox, row_ids: list[int]) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    with monkeypatch.context() as crashing:
        crashing.setattr(Outbox, "remove", crash)
        first = PlatformEventSink(outbox=path)
        first.record_call_detail(leg(0)[1])
        first.record_call_detail(call_detail_update(leg_id="leg-0", hangup_reason="BYE"))
        assert await _wait(delivery.delivered)
        await first.close()
    assert len(first.outbox) == 2

    again = PlatformEventSink(outbox=path)
    await again.close()

    assert sum(batch.count(leg(0)) for batch in delivery.attempts) >= 2
    records = await stored(
        lambda: list(CallDetailRecord.objects.values_list("leg_id", "hangup_reason"))
    )
    assert records == [("leg-0", "BYE")]
    assert len(again.outbox) == 0


@pytest.mark.django_db(transaction=True)
async def test_embedded_rows_wait_for_the_database(tmp_path, monkeypatch):
    """In the embedded default the sink writes the rows itself: a database that is away
    (PostgreSQL restarting) keeps them in the outbox until it answers."""
    monkeypatch.setattr(outbox_module, "FIRST_RETRY_DELAY", 0.05)
    failures = iter([OperationalError("the database system is starting up")] * 2)
    written = threading.Event()

    def restarting_database(records: list) -> None:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        write_records(records)
        written.set()

    monkeypatch.setattr(events_module, "write_records", restarting_database)
    sink = PlatformEventSink(outbox=tmp_path / "outbox.sqlite3")
    try:
        sink.record_call_detail(leg(0)[1])
        assert await _wait(written)
    finally:
        await sink.close()

    leg_ids = await stored(lambda: list(CallDetailRecord.objects.values_list("leg_id", flat=True)))
    assert leg_ids == ["leg-0"]
    assert len(sink.outbox) == 0


@pytest.mark.django_db(transaction=True)
def test_a_batch_delivered_twice_leaves_each_record_once():
    """The outbox may send a batch again (a crash between the broker's accept and the row's
    delete); the writers are upserts on ``leg_id`` / ``transfer_id``."""
    batch = [
        list(leg(0)),
        [CALL_DETAIL, call_detail_update(leg_id="leg-0", answered_status=200)],
        [
            TRANSFER_AUDIT,
            transfer_audit_payload(
                transfer_id="xfer-1",
                requested_at=CREATED,
                call_id="c0@x",
                refer_to="<sip:carol@x>",
                kind="blind",
                policy="c",
                policy_source="account",
                decision="processed",
            ),
        ],
    ]
    record_batch.apply(args=[batch])
    record_batch.apply(args=[batch])

    assert list(CallDetailRecord.objects.values_list("leg_id", "answered_status")) == [
        ("leg-0", 200)
    ]
    assert TransferAuditRecord.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_task_retries_a_database_error_and_writes_once(monkeypatch):
    attempts: list[object] = []
    write = tasks_module.WRITERS[CALL_DETAIL]

    def restarting_database(payload: object) -> object:
        attempts.append(payload)
        if len(attempts) <= 2:
            raise OperationalError("terminating connection due to administrator command")
        return write(payload)

    monkeypatch.setitem(tasks_module.WRITERS, CALL_DETAIL, restarting_database)
    result = record_batch.apply(args=[[list(leg(0))]])

    assert result.successful()
    assert len(attempts) == 3
    assert CallDetailRecord.objects.count() == 1
    assert record_batch.acks_late is True


async def _wait(event: threading.Event) -> bool:
    return await asyncio.to_thread(event.wait, WAIT)
