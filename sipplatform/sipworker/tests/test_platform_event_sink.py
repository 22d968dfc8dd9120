"""``PlatformEventSink``: live events reach the monitor groups in order, records reach the
database through the Celery tasks (run in-process here, as in the embedded default), and
neither ever holds up the event loop."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import UTC, datetime

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connections

from sipcore.events import LiveEvent
from sipplatform.calls.models import CallDetailRecord, TransferAuditRecord
from sipplatform.calls.services import (
    call_detail_payload,
    call_detail_update,
    transfer_audit_payload,
)
from sipplatform.sipworker import events as events_module
from sipplatform.sipworker.events import PlatformEventSink, deliver_records, ordering_key
from sipplatform.sipworker.tasks import record_batch

RECEIVE_TIMEOUT = 5
CREATED = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)


@pytest.fixture
async def sink(tmp_path):
    sink = PlatformEventSink(outbox=tmp_path / "outbox.sqlite3")
    yield sink
    await sink.close()


@pytest.fixture
async def listener():
    """A channel in customer 7's group and one in staff's, as two monitor sockets would be."""
    layer = get_channel_layer()
    customer_channel = await layer.new_channel()
    staff_channel = await layer.new_channel()
    await layer.group_add("customer.7", customer_channel)
    await layer.group_add("staff", staff_channel)
    yield layer, customer_channel, staff_channel
    await layer.group_discard("customer.7", customer_channel)
    await layer.group_discard("staff", staff_channel)


async def receive_messages(layer, channel: str, count: int) -> tuple[list[dict], list[dict]]:
    """The next ``count`` events on ``channel``, batches unpacked, and the messages they came in."""
    events: list[dict] = []
    messages: list[dict] = []
    while len(events) < count:
        message = await asyncio.wait_for(layer.receive(channel), RECEIVE_TIMEOUT)
        messages.append(message)
        if message["type"] == "monitor.events":
            events.extend(message["events"])
        else:
            assert message["type"] == "monitor.event"
            events.append(message["event"])
    assert len(events) == count
    return events, messages


async def receive(layer, channel: str) -> dict:
    return (await receive_messages(layer, channel, 1))[0][0]


async def stored(query):
    """A database read from the async test body, on a thread whose connection is then closed."""

    def run():
        try:
            return query()
        finally:
            connections.close_all()

    return await sync_to_async(run)()


async def test_events_reach_the_customer_and_staff_in_order(sink, listener):
    layer, customer_channel, staff_channel = listener
    kinds = ["call.new", "call.ringing", "call.answered", "call.ended"]

    for index, kind in enumerate(kinds):
        sink.publish(LiveEvent(kind=kind, customer_id=7, data={"call_id": "c1"}, at=100.0 + index))

    for channel in (customer_channel, staff_channel):
        received, messages = await receive_messages(layer, channel, len(kinds))
        assert [event["type"] for event in received] == kinds
        assert received[0] == {"call_id": "c1", "type": "call.new", "at": 100.0}
        # Published together, they travel together: one channel-layer message per group.
        assert [message["type"] for message in messages] == ["monitor.events"]


async def test_events_of_many_calls_and_customers_each_keep_their_order(listener, tmp_path):
    layer, customer_channel, staff_channel = listener
    sink = PlatformEventSink(outbox=tmp_path / "outbox.sqlite3", batch_delay=0.001)
    kinds = ["call.new", "call.ringing", "call.answered", "call.ended"]
    published = []
    for round_ in range(3):
        for kind in kinds:
            for call, customer in (("a", 7), ("b", 8), ("c", 7)):
                event = {"call_id": f"{call}{round_}", "seq": len(published)}
                published.append((customer, kind, event["call_id"]))
                sink.publish(LiveEvent(kind=kind, customer_id=customer, data=event))
        await asyncio.sleep(0.005)
    try:
        staff, _ = await receive_messages(layer, staff_channel, len(published))
        customer7, _ = await receive_messages(
            layer, customer_channel, sum(1 for p in published if p[0] == 7)
        )
    finally:
        await sink.close()

    for received in (staff, customer7):
        by_call: dict[str, list[str]] = {}
        for event in received:
            by_call.setdefault(event["call_id"], []).append(event["type"])
        assert all(order == kinds for order in by_call.values())
    assert {event["call_id"][0] for event in customer7} == {"a", "c"}
    assert len({event["seq"] for event in staff}) == len(published)


async def test_a_stuck_call_does_not_hold_up_the_events_of_other_calls(monkeypatch, tmp_path):
    gate = asyncio.Event()
    delivered: list[str] = []

    async def publish(events):
        if any(event["call_id"] == "stuck" for _, event in events):
            await gate.wait()
        delivered.extend(event["call_id"] for _, event in events)

    monkeypatch.setattr(events_module, "publish_events", publish)
    sink = PlatformEventSink(lanes=2, outbox=tmp_path / "outbox.sqlite3")
    stuck = LiveEvent(kind="call.new", customer_id=7, data={"call_id": "stuck"})
    lane = hash(ordering_key(stuck)) % 2
    other = next(
        f"call-{n}"
        for n in range(100)
        if hash(ordering_key(LiveEvent(kind="", customer_id=7, data={"call_id": f"call-{n}"}))) % 2
        != lane
    )

    sink.publish(stuck)
    sink.publish(LiveEvent(kind="call.new", customer_id=7, data={"call_id": other}))
    async with asyncio.timeout(RECEIVE_TIMEOUT):
        while other not in delivered:
            await asyncio.sleep(0.01)
    assert delivered == [other]
    gate.set()
    await sink.close()
    assert delivered == [other, "stuck"]


async def test_an_event_without_a_customer_goes_to_staff_only(sink, listener):
    layer, customer_channel, staff_channel = listener

    sink.publish(LiveEvent(kind="security.ban", customer_id=None, data={"address": "192.0.2.9"}))

    assert (await receive(layer, staff_channel))["address"] == "192.0.2.9"
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(layer.receive(customer_channel), 0.2)


async def test_an_event_the_monitor_refuses_is_logged_and_the_next_still_sent(
    sink, listener, caplog
):
    layer, customer_channel, _ = listener

    with caplog.at_level(logging.ERROR, logger="sipplatform.sipworker.events"):
        sink.publish(LiveEvent(kind="bogus", customer_id=7))
        sink.publish(LiveEvent(kind="call.new", customer_id=7))
        assert (await receive(layer, customer_channel))["type"] == "call.new"
    assert "could not publish bogus" in caplog.text


async def test_publishing_never_waits_for_the_channel_layer(
    monkeypatch, listener, caplog, tmp_path
):
    gate = asyncio.Event()

    async def stuck_publish(events):
        await gate.wait()

    monkeypatch.setattr(events_module, "publish_events", stuck_publish)
    sink = PlatformEventSink(backlog=2, outbox=tmp_path / "outbox.sqlite3", batch_delay=0)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="sipplatform.sipworker.events"):
        for _ in range(5):
            sink.publish(LiveEvent(kind="call.new", customer_id=7))
    assert time.monotonic() - started < 0.1
    await asyncio.sleep(0)
    # One is with the stuck sender, two wait in the queue, the rest were dropped.
    assert sink.dropped_events >= 2
    assert "monitor backlog full" in caplog.text
    gate.set()
    await sink.close()


class WatchedDelivery:
    """Stands in for ``deliver_records``: notes each batch and its thread, then runs the task, once
    ``gate`` is open."""

    def __init__(self) -> None:
        self.batches: list[list] = []
        self.threads: list[int] = []
        self.sending = threading.Event()
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, batch: list) -> None:
        self.sending.set()
        self.gate.wait(RECEIVE_TIMEOUT)
        self.batches.append(batch)
        self.threads.append(threading.get_ident())
        deliver_records(batch)


@pytest.fixture
def task(monkeypatch) -> WatchedDelivery:
    watched = WatchedDelivery()
    monkeypatch.setattr(events_module, "deliver_records", watched)
    return watched


@pytest.mark.django_db(transaction=True)
async def test_call_detail_records_are_written_in_order_off_the_loop(task, sink):
    sink.record_call_detail(
        call_detail_payload(leg_id="leg-1", call_id="c1@x", direction="out", created_at=CREATED)
    )
    sink.record_call_detail(call_detail_update(leg_id="leg-1", answered_status=200))
    sink.record_call_detail(call_detail_update(leg_id="leg-1", hangup_reason="BYE"))
    await sink.close()

    record = await stored(lambda: CallDetailRecord.objects.get(leg_id="leg-1"))
    assert (record.call_id, record.answered_status, record.hangup_reason) == ("c1@x", 200, "BYE")
    assert threading.get_ident() not in task.threads


@pytest.mark.django_db(transaction=True)
async def test_records_queued_while_one_is_being_sent_go_in_one_batch(task, sink):
    def leg(index: int) -> dict:
        return call_detail_payload(
            leg_id=f"leg-{index}", call_id="c1@x", direction="in", created_at=CREATED
        )

    task.gate.clear()
    sink.record_call_detail(leg(0))
    assert await asyncio.to_thread(task.sending.wait, RECEIVE_TIMEOUT)
    for index in range(1, 5):
        sink.record_call_detail(leg(index))
    task.gate.set()
    await sink.close()

    assert [len(batch) for batch in task.batches] == [1, 4]
    assert await stored(CallDetailRecord.objects.count) == 5


@pytest.mark.django_db(transaction=True)
async def test_transfer_audit_records_are_written(sink):
    sink.record_transfer_audit(
        transfer_audit_payload(
            transfer_id="xfer-1",
            requested_at=CREATED,
            call_id="c1@x",
            refer_to="<sip:carol@x>",
            kind="blind",
            policy="c",
            policy_source="account",
            decision="processed",
        )
    )
    await sink.close()

    record = await stored(lambda: TransferAuditRecord.objects.get(transfer_id="xfer-1"))
    assert (record.kind, record.decision) == ("blind", "processed")


@pytest.mark.django_db(transaction=True)
def test_a_batch_writes_every_good_record_and_logs_the_rest(caplog):
    good = call_detail_payload(leg_id="leg-1", call_id="c1@x", direction="in", created_at=CREATED)
    with caplog.at_level(logging.ERROR, logger="sipplatform.sipworker.tasks"):
        record_batch.apply(
            args=[
                [["call_detail", {"leg_id": "leg-0"}], ["bogus", {}], "junk", ["call_detail", good]]
            ]
        )
    assert list(CallDetailRecord.objects.values_list("leg_id", flat=True)) == ["leg-1"]
    assert "dropped call_detail payload: a new record needs" in caplog.text
    assert "dropped record of unknown shape or kind: ['bogus', {}]" in caplog.text
    assert "dropped record of unknown shape or kind: 'junk'" in caplog.text
