"""Attended and semi-attended transfers on the server: one offer/answer at a time, 491 glare
back-off with RFC 3261 §14.1's ranges, restoring the original bridges on failure."""

import pytest

from sipcore.message import Request, parse_message
from sipcore.policy import ALLOWED
from sipcore.transfer import (
    CallFacts,
    DialogueInfo,
    DialogueState,
    PlaceCallFacts,
    TransferProcess,
    read_refer,
)
from sipcore.transfer.actions import (
    Audit,
    Bridge,
    Bye,
    Cancel,
    CheckPlaceCall,
    DialogueFound,
    Leg,
    LookupDialogue,
    NotifyAnswered,
    PlaceCall,
    PlaceCallChecked,
    Publish,
    ReInvite,
    ReInviteAnswered,
    RespondToRefer,
    Restore,
    SendNotify,
    TargetAnswered,
    TargetProgress,
    TransfereeGone,
    TransferorGone,
)
from sipcore.transfer.glare import MAX_GLARE_RETRIES

CAROL = b"v=0\r\no=carol 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
BOB = b"v=0\r\no=bob 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n"
ALICE = b"v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n"


class Draws:
    """An injected random source that records the ranges asked for."""

    def __init__(self, value_from_low: int = 0) -> None:
        self.ranges: list[tuple[int, int]] = []
        self.offset = value_from_low

    def randint(self, a: int, b: int) -> int:
        self.ranges.append((a, b))
        return a + self.offset


def refer(*extra: str) -> Request:
    lines = [
        "REFER sip:b2bua@127.0.0.1:5060 SIP/2.0",
        "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKatt",
        "Max-Forwards: 70",
        "From: <sip:alice@example.com>;tag=ali-1",
        "To: <sip:bob@example.com>;tag=srv-1",
        "Call-ID: call-1",
        "CSeq: 12 REFER",
        "Contact: <sip:alice@127.0.0.1:5070>",
        "Refer-To: <sip:carol@example.com?Replaces=cons-1%3Bto-tag%3Dsrv-2%3Bfrom-tag%3Dali-2>",
        *extra,
        "Content-Length: 0",
    ]
    message = parse_message(("\r\n".join(lines) + "\r\n\r\n").encode())
    assert isinstance(message, Request)
    return message


def consultation(state: DialogueState = DialogueState.CONFIRMED, **changes) -> DialogueInfo:
    values = {
        "call_id": "cons-1",
        "local_tag": "srv-2",
        "remote_tag": "ali-2",
        "state": state,
        "method": "INVITE",
        "account_id": 11,
        "customer_id": 1,
        "far_end_sdp": CAROL,
        "far_end_owned_call_id": True,
    } | changes
    return DialogueInfo(**values)


def process_for(*extra: str, draws: Draws | None = None, **changes) -> TransferProcess:
    call = {
        "customer_id": 1,
        "account_id": 11,
        "transferor": "alice@example.com",
        "transferee": "bob@example.com",
        "local_tag": "srv-1",
        "remote_tag": "ali-1",
        "related_call_ids": ("call-0",),
        "leg_transfer": "c",
        "transferor_sdp": ALICE,
        "transferee_owned_call_id": False,
    } | changes
    return TransferProcess(
        refer=read_refer(refer(*extra)),
        call=CallFacts(**call),
        now=50.0,
        transfer_id="att-1",
        random=draws or Draws(),
    )


def protocol(actions):
    return [a for a in actions if not isinstance(a, (Audit, Publish))]


def of(kind, actions):
    return [a for a in actions if isinstance(a, kind)]


def start_confirmed(process: TransferProcess, **info) -> list:
    actions = process.start(50.0)
    assert protocol(actions) == [LookupDialogue(replaces=process.refer.replaces)]
    return process.handle(DialogueFound(info=consultation(**info)), 50.1)


def test_an_attended_transfer_bridges_both_far_ends_one_offer_answer_at_a_time():
    process = process_for()
    actions = start_confirmed(process)
    assert [type(a) for a in protocol(actions)] == [RespondToRefer, SendNotify, ReInvite]
    assert of(ReInvite, actions) == [ReInvite(leg=Leg.TRANSFEREE, sdp=CAROL)]
    assert of(Audit, actions)[0].payload["related_call_ids"] == ["call-0", "cons-1"]
    target = process.handle(ReInviteAnswered(leg=Leg.TRANSFEREE, status=200, sdp=BOB), 50.3)
    assert protocol(target) == [ReInvite(leg=Leg.TARGET, sdp=BOB)]
    bridged = process.handle(ReInviteAnswered(leg=Leg.TARGET, status=200, sdp=CAROL), 50.5)
    assert [type(a) for a in protocol(bridged)] == [Bridge, SendNotify]
    assert of(SendNotify, bridged)[0].final
    done = process.handle(NotifyAnswered(status=200, final=True), 50.6)
    assert protocol(done) == [Bye(leg=Leg.TRANSFEROR), Bye(leg=Leg.CONSULTATION)]
    record = of(Audit, done)[-1].payload
    assert (record["kind"], record["outcome"], record["notify_statuses"]) == (
        "attended",
        "completed",
        [100, 200],
    )
    assert record["replaces"] == "cons-1;to-tag=srv-2;from-tag=ali-2"


def test_under_tr_p_an_attended_transfer_is_processed_too():
    process = process_for(leg_transfer="p")
    actions = start_confirmed(process)
    assert of(Audit, actions)[0].payload["decision"] == "processed"


def test_a_491_backs_off_for_the_non_owners_range_then_retries():
    draws = Draws(value_from_low=150)
    process = process_for(draws=draws)
    start_confirmed(process)
    assert process.handle(ReInviteAnswered(leg=Leg.TRANSFEREE, status=491), 51.0) == []
    assert draws.ranges == [(0, 200)]
    assert process.next_deadline() == pytest.approx(52.5)
    assert process.on_timer(52.4) == []
    assert protocol(process.on_timer(52.5)) == [ReInvite(leg=Leg.TRANSFEREE, sdp=CAROL)]
    assert process.next_deadline() is None


def test_the_owner_of_the_call_id_waits_2_1_to_4_seconds():
    draws = Draws()
    process = process_for(draws=draws)
    start_confirmed(process)
    process.handle(ReInviteAnswered(leg=Leg.TRANSFEREE, status=200, sdp=BOB), 50.2)
    process.handle(ReInviteAnswered(leg=Leg.TARGET, status=491), 50.4)
    assert draws.ranges == [(210, 400)]
    assert process.next_deadline() == pytest.approx(52.5)
    assert protocol(process.on_timer(53.0)) == [ReInvite(leg=Leg.TARGET, sdp=BOB)]


def test_endless_glare_counts_as_a_failure():
    process = process_for()
    start_confirmed(process)
    for attempt in range(MAX_GLARE_RETRIES):
        process.handle(ReInviteAnswered(leg=Leg.TRANSFEREE, status=491), 51.0 + attempt * 10)
        process.on_timer(55.0 + attempt * 10)
    actions = process.handle(ReInviteAnswered(leg=Leg.TRANSFEREE, status=491), 200.0)
    assert [type(a) for a in protocol(actions)] == [SendNotify, Restore]
    assert of(SendNotify, actions)[0].body == b"SIP/2.0 491 Request Pending\r\n"


def test_a_failed_target_reinvite_restores_the_transferee_to_the_transferor():
    process = process_for()
    start_confirmed(process)
    process.handle(ReInviteAnswered(leg=Leg.TRANSFEREE, status=200, sdp=BOB), 50.2)
    restoring = process.handle(ReInviteAnswered(leg=Leg.TARGET, status=488), 50.4)
    assert protocol(restoring) == [ReInvite(leg=Leg.TRANSFEREE, sdp=ALICE)]
    failed = process.handle(ReInviteAnswered(leg=Leg.TRANSFEREE, status=200, sdp=BOB), 50.6)
    assert [type(a) for a in protocol(failed)] == [SendNotify, Restore]
    assert of(SendNotify, failed)[0].body == b"SIP/2.0 488 Not Acceptable Here\r\n"
    assert not of(Bye, failed)
    assert of(Audit, failed)[-1].payload["final_status"] == 488


def test_a_failed_first_reinvite_changes_nothing():
    process = process_for()
    start_confirmed(process)
    actions = process.handle(ReInviteAnswered(leg=Leg.TRANSFEREE, status=500), 50.2)
    assert [type(a) for a in protocol(actions)] == [SendNotify, Restore]


def test_the_transferors_bye_during_an_attended_transfer_still_releases_the_consultation():
    process = process_for()
    start_confirmed(process)
    assert process.handle(TransferorGone(), 50.15) == []
    process.handle(ReInviteAnswered(leg=Leg.TRANSFEREE, status=200, sdp=BOB), 50.2)
    done = process.handle(ReInviteAnswered(leg=Leg.TARGET, status=200, sdp=CAROL), 50.4)
    assert protocol(done) == [
        Bridge(a=Leg.TRANSFEREE, b=Leg.TARGET),
        Bye(leg=Leg.CONSULTATION),
    ]
    assert process.finished


def test_the_transferee_leaving_mid_transfer_fails_it():
    process = process_for()
    start_confirmed(process)
    actions = process.handle(TransfereeGone(), 50.2)
    assert of(SendNotify, actions)[0].status == 487
    assert process.finished


def test_semi_attended_takeover_waits_for_the_target_then_bridges():
    process = process_for()
    actions = start_confirmed(process, state=DialogueState.EARLY, far_end_sdp=b"")
    assert [type(a) for a in protocol(actions)] == [RespondToRefer, SendNotify, Cancel]
    assert of(Cancel, actions) == [Cancel(leg=Leg.CONSULTATION)]
    assert of(Audit, actions)[0].payload["kind"] == "semi_attended"
    ringing = process.handle(TargetProgress(status=180), 51.0)
    assert [a.status for a in of(SendNotify, ringing)] == [180]
    answered = process.handle(TargetAnswered(sdp=CAROL), 52.0)
    assert protocol(answered) == [ReInvite(leg=Leg.TRANSFEREE, sdp=CAROL)]
    process.handle(ReInviteAnswered(leg=Leg.TRANSFEREE, status=200, sdp=BOB), 52.2)
    process.handle(ReInviteAnswered(leg=Leg.TARGET, status=200, sdp=CAROL), 52.4)
    done = process.handle(NotifyAnswered(status=200, final=True), 52.5)
    assert protocol(done) == [Bye(leg=Leg.TRANSFEROR)]


def test_semi_attended_fallback_cancels_the_consultation_and_transfers_blind():
    process = process_for(semi_attended_fallback_blind=True)
    actions = start_confirmed(process, state=DialogueState.EARLY)
    assert protocol(actions) == [CheckPlaceCall(target_user="carol")]
    facts = PlaceCallFacts(
        dialplan_exists=True, executions_active=0, execution_limit=0, destination=ALLOWED
    )
    accepted = process.handle(PlaceCallChecked(facts=facts), 50.2)
    assert [type(a) for a in protocol(accepted)] == [
        RespondToRefer,
        SendNotify,
        Cancel,
        Cancel,
        PlaceCall,
    ]
    assert of(Audit, accepted)[0].payload["kind"] == "semi_attended"
    answered = process.handle(TargetAnswered(sdp=CAROL), 53.0)
    assert protocol(answered) == [ReInvite(leg=Leg.TRANSFEREE, sdp=CAROL)]


def test_a_refusal_for_the_fallback_leaves_the_consultation_ringing():
    process = process_for(semi_attended_fallback_blind=True)
    start_confirmed(process, state=DialogueState.EARLY)
    facts = PlaceCallFacts(
        dialplan_exists=False, executions_active=0, execution_limit=0, destination=ALLOWED
    )
    actions = process.handle(PlaceCallChecked(facts=facts), 50.2)
    assert protocol(actions) == [RespondToRefer(status=403, reason="No transfer dialplan")]
