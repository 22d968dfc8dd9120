"""Blind transfers through the process: ``tr=n`` declines, ``tr=c`` calls the target first
and re-bridges only on its answer, ``tr=p`` passes a REFER of our own to the transferee."""

from sipcore.directory import TransferPolicy
from sipcore.message import Request, parse_message
from sipcore.policy import ALLOWED, DestinationRules
from sipcore.transfer import CallFacts, PlaceCallFacts, TransferProcess, read_refer
from sipcore.transfer.actions import (
    AckTarget,
    Audit,
    Bridge,
    Bye,
    Cancel,
    CheckPlaceCall,
    Leg,
    NotifyAnswered,
    NotifyReceived,
    PlaceCall,
    PlaceCallChecked,
    Publish,
    ReferAnswered,
    ReInvite,
    ReInviteAnswered,
    RespondToRefer,
    Restore,
    SendNotify,
    SendRefer,
    TargetAnswered,
    TargetFailed,
    TargetProgress,
    TransfereeGone,
    TransferorGone,
)
from sipcore.transfer.process import RELAY_SECONDS

TARGET_OFFER = b"v=0\r\no=carol 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
TRANSFEREE_ANSWER = (
    b"v=0\r\no=bob 2 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n"
)


def refer_message(
    *extra: str, cseq: int = 7, refer_to: str = "<sip:carol@example.com>", hops: int = 70
) -> Request:
    lines = [
        "REFER sip:b2bua@127.0.0.1:5060 SIP/2.0",
        "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKb" + str(cseq),
        f"Max-Forwards: {hops}",
        "From: <sip:alice@example.com>;tag=ali-1",
        "To: <sip:bob@example.com>;tag=srv-1",
        "Call-ID: call-1",
        f"CSeq: {cseq} REFER",
        "Contact: <sip:alice@127.0.0.1:5070>",
        f"Refer-To: {refer_to}",
        *extra,
        "Content-Length: 0",
    ]
    message = parse_message(("\r\n".join(lines) + "\r\n\r\n").encode())
    assert isinstance(message, Request)
    return message


def process_for(
    *extra: str,
    tr: str | None = "c",
    cseq: int = 7,
    refer_to: str = "<sip:carol@example.com>",
    hops: int = 70,
    **changes,
) -> TransferProcess:
    call = {
        "customer_id": 1,
        "account_id": 11,
        "transferor": "alice@example.com",
        "transferee": "bob@example.com",
        "local_tag": "srv-1",
        "remote_tag": "ali-1",
        "related_call_ids": ("call-0",),
        "leg_transfer": tr,
        "transferor_sdp": b"v=0\r\n",
    } | changes
    return TransferProcess(
        refer=read_refer(refer_message(*extra, cseq=cseq, refer_to=refer_to, hops=hops)),
        call=CallFacts(**call),
        now=100.0,
        transfer_id=f"t-{cseq}",
    )


def of(kind, actions):
    return [a for a in actions if isinstance(a, kind)]


def protocol(actions):
    """The SIP-visible actions, without audit and live events."""
    return [a for a in actions if not isinstance(a, (Audit, Publish))]


def notified(actions):
    return [a.status for a in of(SendNotify, actions)]


def checks_ok(**changes) -> PlaceCallChecked:
    values = {
        "dialplan_exists": True,
        "executions_active": 0,
        "execution_limit": 5,
        "destination": ALLOWED,
    } | changes
    return PlaceCallChecked(facts=PlaceCallFacts(**values))


def accepted(process: TransferProcess) -> list:
    actions = process.start(100.0)
    assert protocol(actions) == [CheckPlaceCall(target_user="carol")]
    return process.handle(checks_ok(), 100.1)


# tr=n ------------------------------------------------------------------------------------------


def test_tr_n_declines_and_leaves_the_call_alone():
    process = process_for(tr="n")
    actions = process.start(100.0)
    assert protocol(actions) == [
        RespondToRefer(status=603, reason="Transfers are disabled on this call")
    ]
    assert process.finished
    [audit] = of(Audit, actions)
    assert audit.payload["decision"] == "rejected"
    assert audit.payload["policy"] == "n" and audit.payload["policy_source"] == "leg"
    assert [p.event.kind for p in of(Publish, actions)] == [
        "transfer.requested",
        "transfer.decided",
    ]


def test_without_a_tr_option_the_accounts_policy_applies():
    process = process_for(tr=None, account_policy=TransferPolicy(value="n", source="customer"))
    actions = process.start(100.0)
    assert of(RespondToRefer, actions)[0].status == 603
    assert of(Audit, actions)[0].payload["policy_source"] == "customer"


def test_an_unknown_policy_refuses_and_reports_to_the_dialplan_log():
    process = process_for(tr=None, account_policy=TransferPolicy(value="q", source="account"))
    actions = process.start(100.0)
    [response] = of(RespondToRefer, actions)
    assert (response.status, response.reason) == (500, "Transfer policy misconfigured")
    [log] = [a for a in actions if type(a).__name__ == "LogToDialplan"]
    assert "tr='q'" in log.message
    assert "tr='q'" in of(Audit, actions)[0].payload["reason"]


def test_a_malformed_refer_is_refused_before_the_policy_is_applied():
    process = process_for(tr="n", refer_to="<tel:+15551234>")
    [response] = of(RespondToRefer, process.start(100.0))
    assert response.status == 403


# tr=c ------------------------------------------------------------------------------------------


def test_tr_c_rings_the_target_first_and_re_bridges_on_its_answer():
    process = process_for('Referred-By: "Alice" <sip:alice@example.com>')
    actions = accepted(process)
    assert protocol(actions) == [
        RespondToRefer(status=202, reason="Accepted"),
        SendNotify(
            status=100,
            final=False,
            headers=(
                ("Event", "refer;id=7"),
                ("Subscription-State", "active;expires=60"),
                ("Content-Type", "message/sipfrag;version=2.0"),
            ),
            body=b"SIP/2.0 100 Trying\r\n",
        ),
        PlaceCall(
            dialplan="transfer",
            target="sip:carol@example.com",
            target_user="carol",
            referred_by='"Alice" <sip:alice@example.com>',
        ),
    ]
    ringing = process.handle(TargetProgress(status=180, reason="Ringing"), 101.0)
    assert notified(ringing) == [180]
    assert not of(ReInvite, ringing), "the transferee is not touched while the target rings"
    assert process.handle(TargetProgress(status=180), 101.5) == []
    answered = process.handle(TargetAnswered(sdp=TARGET_OFFER), 103.0)
    assert protocol(answered) == [ReInvite(leg=Leg.TRANSFEREE, sdp=TARGET_OFFER)]
    bridged = process.handle(
        ReInviteAnswered(leg=Leg.TRANSFEREE, status=200, sdp=TRANSFEREE_ANSWER), 103.2
    )
    assert [type(a) for a in protocol(bridged)] == [AckTarget, Bridge, SendNotify]
    assert of(AckTarget, bridged) == [AckTarget(sdp=TRANSFEREE_ANSWER)]
    [final] = of(SendNotify, bridged)
    assert final.final and final.body == b"SIP/2.0 200 OK\r\n"
    assert dict(final.headers)["Subscription-State"] == "terminated;reason=noresource"
    assert not of(Bye, bridged), "the BYE waits for the final NOTIFY's answer"
    done = process.handle(NotifyAnswered(status=200, final=True), 103.3)
    assert protocol(done) == [Bye(leg=Leg.TRANSFEROR)]
    assert process.finished
    record = of(Audit, done)[0].payload
    assert record["outcome"] == "completed"
    assert record["final_status"] == 200
    assert record["notify_statuses"] == [100, 180, 200]
    assert record["decision"] == "processed"
    assert record["duration_ms"] == 3300
    assert [p.event.kind for p in of(Publish, done)] == ["transfer.completed"]


def test_a_busy_target_gives_a_final_486_and_the_original_call_stays():
    process = process_for()
    accepted(process)
    process.handle(TargetProgress(status=180), 101.0)
    actions = process.handle(TargetFailed(status=486, reason="Busy Here"), 102.0)
    assert [type(a) for a in protocol(actions)] == [SendNotify, Restore]
    [final] = of(SendNotify, actions)
    assert final.final and final.body == b"SIP/2.0 486 Busy Here\r\n"
    assert not of(Bye, actions) and not of(ReInvite, actions)
    record = of(Audit, actions)[0].payload
    assert (record["outcome"], record["final_status"]) == ("failed", 486)
    assert record["notify_statuses"] == [100, 180, 486]
    assert of(Publish, actions)[-1].event.kind == "transfer.failed"


def test_a_premium_rate_target_is_blocked_before_acceptance():
    process = process_for(refer_to="<sip:+449098790000@example.com>")
    process.start(100.0)
    rules = DestinationRules(denied_prefixes=frozenset({"44909"}))
    actions = process.handle(checks_ok(destination=rules.judge("+449098790000")), 100.1)
    [response] = protocol(actions)
    assert isinstance(response, RespondToRefer) and response.status == 403
    assert "denied prefix 44909" in response.reason
    assert not of(SendNotify, actions) and not of(PlaceCall, actions)
    record = of(Audit, actions)[0].payload
    assert (record["decision"], record["outcome"], record["final_status"]) == (
        "rejected",
        "rejected",
        403,
    )
    assert record["target"] == "sip:+449098790000@example.com"
    decided = of(Publish, actions)[-1].event
    assert decided.kind == "transfer.decided" and "44909" in decided.data["reason"]


def test_without_a_transfer_dialplan_the_refer_is_refused_and_the_call_stays():
    process = process_for()
    process.start(100.0)
    actions = process.handle(checks_ok(dialplan_exists=False), 100.1)
    assert protocol(actions) == [RespondToRefer(status=403, reason="No transfer dialplan")]


def test_the_transferors_bye_right_after_the_202_does_not_stop_the_transfer():
    process = process_for()
    accepted(process)
    assert process.handle(TransferorGone(), 100.2) == []
    ringing = process.handle(TargetProgress(status=180), 101.0)
    assert not of(SendNotify, ringing)
    process.handle(TargetAnswered(sdp=TARGET_OFFER), 102.0)
    done = process.handle(
        ReInviteAnswered(leg=Leg.TRANSFEREE, status=200, sdp=TRANSFEREE_ANSWER), 102.5
    )
    assert [type(a) for a in protocol(done)] == [AckTarget, Bridge]
    assert process.finished, "no NOTIFY to wait for"
    record = of(Audit, done)[-1].payload
    assert record["outcome"] == "completed" and record["notify_statuses"] == [100]


def test_the_transferors_bye_while_the_final_notify_is_out_completes_without_a_bye():
    process = process_for()
    accepted(process)
    process.handle(TargetAnswered(sdp=TARGET_OFFER), 102.0)
    process.handle(ReInviteAnswered(leg=Leg.TRANSFEREE, status=200, sdp=TRANSFEREE_ANSWER), 102.5)
    actions = process.handle(TransferorGone(), 102.6)
    assert protocol(actions) == []
    assert process.finished
    assert process.handle(NotifyAnswered(status=481, final=True), 102.7) == []


def test_refer_sub_false_gets_refer_sub_false_and_no_notify():
    process = process_for("Refer-Sub: false", accept_with_200=True)
    actions = accepted(process)
    assert protocol(actions)[0] == RespondToRefer(
        status=200, reason="OK", headers=(("Refer-Sub", "false"),)
    )
    assert not of(SendNotify, actions)
    process.handle(TargetAnswered(sdp=TARGET_OFFER), 101.0)
    done = process.handle(
        ReInviteAnswered(leg=Leg.TRANSFEREE, status=200, sdp=TRANSFEREE_ANSWER), 101.5
    )
    assert protocol(done) == [
        AckTarget(sdp=TRANSFEREE_ANSWER),
        Bridge(a=Leg.TRANSFEREE, b=Leg.TARGET),
        Bye(leg=Leg.TRANSFEROR),
    ]


def test_two_refers_in_one_dialogue_notify_with_distinct_ids():
    first, second = process_for(cseq=7), process_for(cseq=8)
    ids = []
    for process in (first, second):
        [notify] = of(SendNotify, accepted(process))
        ids.append(dict(notify.headers)["Event"])
    assert ids == ["refer;id=7", "refer;id=8"]
    assert first.transfer_id != second.transfer_id


def test_a_refused_transferee_reinvite_hangs_up_the_target_and_keeps_the_call():
    process = process_for()
    accepted(process)
    process.handle(TargetAnswered(sdp=TARGET_OFFER), 102.0)
    actions = process.handle(ReInviteAnswered(leg=Leg.TRANSFEREE, status=488), 102.5)
    ack, bye, notify, restore = protocol(actions)
    assert isinstance(ack, AckTarget) and b"m=audio 0 RTP/AVP 0" in ack.sdp
    assert bye == Bye(leg=Leg.TARGET)
    assert isinstance(notify, SendNotify) and notify.body == b"SIP/2.0 488 Not Acceptable Here\r\n"
    assert restore == Restore()


def test_the_transferee_hanging_up_while_the_target_rings_cancels_the_target():
    process = process_for()
    accepted(process)
    actions = process.handle(TransfereeGone(), 101.0)
    assert [type(a) for a in protocol(actions)] == [Cancel, SendNotify, Restore]
    assert of(SendNotify, actions)[0].status == 487


def test_late_inputs_after_the_end_are_ignored():
    process = process_for(tr="n")
    process.start(100.0)
    assert process.handle(TargetProgress(status=180), 101.0) == []
    assert process.next_deadline() is None


# tr=p ------------------------------------------------------------------------------------------


def transferee_notify(state: str, body: bytes) -> NotifyReceived:
    lines = [
        "Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKn" + str(len(body)),
        "From: <sip:bob@example.com>;tag=bob-1",
        "To: <sip:b2bua@127.0.0.1>;tag=srv-0",
        "Call-ID: call-0",
        "CSeq: 4 NOTIFY",
        "Event: refer;id=1",
        f"Subscription-State: {state}",
        "Content-Type: message/sipfrag;version=2.0",
    ]
    fields = [tuple(part.strip() for part in line.split(":", 1)) for line in lines]
    return NotifyReceived(request=Request("NOTIFY", "sip:b2bua@127.0.0.1:5060", fields, body))


def test_tr_p_passes_a_refer_of_our_own_and_relays_the_notifies():
    process = process_for(tr="p")
    actions = process.start(100.0)
    assert protocol(actions) == [
        SendRefer(
            refer_to="<sip:carol@example.com>",
            referred_by="<sip:alice@example.com>",
            max_forwards=69,
        )
    ]
    accepted_actions = process.handle(ReferAnswered(status=202), 100.3)
    assert [type(a) for a in protocol(accepted_actions)] == [RespondToRefer, SendNotify]
    assert of(Audit, accepted_actions)[0].payload["decision"] == "passed_through"
    assert process.next_deadline() == 100.3 + RELAY_SECONDS
    assert (
        process.handle(transferee_notify("active;expires=60", b"SIP/2.0 100 Trying\n"), 100.4) == []
    )
    ringing = process.handle(transferee_notify("active", b"SIP/2.0 180 Ringing\n"), 101.0)
    assert notified(ringing) == [180]
    assert dict(of(SendNotify, ringing)[0].headers)["Event"] == "refer;id=7"
    done = process.handle(
        transferee_notify("terminated;reason=reason=noresource", b"SIP/2.0 200 OK\r\n"), 104.0
    )
    assert notified(done) == [200] and of(SendNotify, done)[0].final
    assert of(Audit, done)[-1].payload["outcome"] == "completed"
    assert process.next_deadline() is None


def test_tr_p_answers_the_transferor_with_the_transferees_refusal():
    process = process_for(tr="p")
    process.start(100.0)
    actions = process.handle(ReferAnswered(status=501, reason="Not Implemented"), 100.2)
    assert protocol(actions) == [RespondToRefer(status=501, reason="Not Implemented")]
    assert of(Audit, actions)[-1].payload["outcome"] == "failed"


def test_tr_p_gives_up_when_the_transferee_never_reports():
    process = process_for(tr="p")
    process.start(100.0)
    process.handle(ReferAnswered(status=202), 100.2)
    assert process.on_timer(100.2 + RELAY_SECONDS - 1) == []
    actions = process.on_timer(100.2 + RELAY_SECONDS)
    assert notified(actions) == [408]
    assert process.finished


def test_tr_p_refuses_a_refer_that_ran_out_of_hops():
    process = process_for(tr="p", hops=0)
    [response] = of(RespondToRefer, process.start(100.0))
    assert response.status == 483


def test_tr_p_records_an_unknown_outcome_when_the_transferee_leaves_without_reporting():
    process = process_for(tr="p")
    process.start(100.0)
    process.handle(ReferAnswered(status=202), 100.2)
    process.handle(transferee_notify("active", b"SIP/2.0 180 Ringing\r\n"), 101.0)
    actions = process.handle(TransfereeGone(), 102.0)
    [final] = of(SendNotify, actions)
    assert final.final and final.body == b"SIP/2.0 180 Ringing\r\n"
    record = of(Audit, actions)[-1].payload
    assert record["outcome"] == "failed"
    assert record["reason"] == "The call ended before the transferee reported an outcome"
    assert process.next_deadline() is None


def test_a_b2bua_without_server_side_transfers_refuses_what_it_would_have_to_process():
    process = process_for(tr="c", server_side=False)
    actions = process.start(100.0)
    assert protocol(actions) == [
        RespondToRefer(status=501, reason="Server-side transfers are not available")
    ]
    passing = process_for(tr="p", server_side=False)
    assert [type(a) for a in protocol(passing.start(100.0))] == [SendRefer]


def test_a_refused_refer_still_records_the_policy_in_force():
    process = process_for(tr="p", refer_to="<tel:+15551234>")
    record = of(Audit, process.start(100.0))[0].payload
    assert (record["policy"], record["policy_source"], record["final_status"]) == ("p", "leg", 403)
