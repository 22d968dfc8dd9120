"""The transfer audit payload fills every field of TransferAuditRecord and is written by the
platform's own service; the live events follow the transfer's steps."""

from datetime import UTC, datetime

from sipcore.message import Request, parse_message
from sipcore.policy import ALLOWED
from sipcore.transfer import CallFacts, PlaceCallFacts, TransferProcess, read_refer
from sipcore.transfer.actions import (
    Audit,
    Leg,
    NotifyAnswered,
    PlaceCallChecked,
    Publish,
    ReInviteAnswered,
    TargetAnswered,
    TargetProgress,
)
from sipplatform.calls.models import TransferAuditRecord
from sipplatform.calls.services import record_transfer_audit
from sipplatform.customers.services import create_customer
from sipplatform.directory.services import create_sip_account

STARTED = datetime(2026, 11, 26, 8, 0, tzinfo=UTC).timestamp()


def refer() -> Request:
    lines = [
        "REFER sip:b2bua@127.0.0.1:5060 SIP/2.0",
        "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKaud",
        "From: <sip:alice@example.com>;tag=ali-1",
        "To: <sip:bob@example.com>;tag=srv-1",
        "Call-ID: call-1",
        "CSeq: 5 REFER",
        "Contact: <sip:alice@127.0.0.1:5070>",
        "Refer-To: <sip:carol@example.com;transport=udp?X-Info=1>",
        "Referred-By: <sip:alice@example.com>",
        "Content-Length: 0",
    ]
    message = parse_message(("\r\n".join(lines) + "\r\n\r\n").encode())
    assert isinstance(message, Request)
    return message


def completed_transfer(customer_id: int | None, account_id: int | None) -> list:
    process = TransferProcess(
        refer=read_refer(refer()),
        call=CallFacts(
            customer_id=customer_id,
            account_id=account_id,
            transferor="alice@example.com",
            transferee="bob@example.com",
            local_tag="srv-1",
            remote_tag="ali-1",
            related_call_ids=("call-0",),
            leg_transfer="c",
            worker_id="worker-a",
        ),
        now=STARTED,
        transfer_id="audit-1",
    )
    facts = PlaceCallFacts(
        dialplan_exists=True, executions_active=0, execution_limit=0, destination=ALLOWED
    )
    actions = process.start(STARTED)
    actions += process.handle(PlaceCallChecked(facts=facts), STARTED + 0.05)
    actions += process.handle(TargetProgress(status=183), STARTED + 1)
    actions += process.handle(TargetAnswered(sdp=b"v=0\r\n"), STARTED + 2)
    actions += process.handle(
        ReInviteAnswered(leg=Leg.TRANSFEREE, status=200, sdp=b"v=0\r\n"), STARTED + 2.5
    )
    actions += process.handle(NotifyAnswered(status=200, final=True), STARTED + 2.6)
    return actions


def test_the_payload_names_every_field_of_the_record():
    payloads = [a.payload for a in completed_transfer(1, 11) if isinstance(a, Audit)]
    fields = {
        field.attname
        for field in TransferAuditRecord._meta.concrete_fields
        if not field.primary_key
    }
    assert len(payloads) == 2
    assert set(payloads[-1]) == fields
    final = payloads[-1]
    assert final["refer_to"] == "<sip:carol@example.com;transport=udp?X-Info=1>"
    assert final["target"] == "sip:carol@example.com;transport=udp"
    assert final["referred_by"] == "<sip:alice@example.com>"
    assert final["notify_statuses"] == [100, 183, 200]
    assert final["decision_ms"] == 50
    assert final["duration_ms"] == 2600
    assert final["requested_at"] == "2026-11-26T08:00:00+00:00"


def test_the_live_events_follow_the_steps():
    events = [a.event for a in completed_transfer(1, 11) if isinstance(a, Publish)]
    assert [e.kind for e in events] == [
        "transfer.requested",
        "transfer.decided",
        "transfer.progress",
        "transfer.progress",
        "transfer.progress",
        "transfer.completed",
    ]
    assert [e.data.get("status") for e in events[2:5]] == [100, 183, 200]
    assert all(e.customer_id == 1 and e.data["transfer_id"] == "audit-1" for e in events)
    assert events[1].data["decision"] == "processed"


def test_the_platform_writes_the_payloads_as_one_record(db):
    customer = create_customer("Acme")
    account, _ = create_sip_account(customer, "alice")
    for action in completed_transfer(customer.pk, account.pk):
        if isinstance(action, Audit):
            record_transfer_audit(action.payload)
    record = TransferAuditRecord.objects.get()
    assert (record.transfer_id, record.customer, record.account) == ("audit-1", customer, account)
    assert (record.kind, record.policy, record.policy_source, record.decision) == (
        "blind",
        "c",
        "leg",
        "processed",
    )
    assert (record.outcome, record.final_status, record.worker_id) == ("completed", 200, "worker-a")
    assert record.related_call_ids == ["call-0"]
    assert record.completed_at is not None and record.decided_at is not None
