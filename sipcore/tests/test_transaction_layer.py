"""TransactionLayer matching (RFC 3261 §17.1.3, §17.2.3, §9.2) and timer scheduling."""

import pytest

from sipcore.errors import LocalProtocolError
from sipcore.message import Request, Response, parse_message
from sipcore.transaction import (
    DeliverRequest,
    DeliverResponse,
    Dispatch,
    InviteServerTransaction,
    NonInviteServerTransaction,
    SendMessage,
    State,
    Terminated,
    TimedOut,
    TransactionLayer,
)
from sipcore.transaction.testing import make_reply, make_request

OLD_VIA = "SIP/2.0/UDP 10.0.0.9:5060"  # RFC 2543 style: no branch at all


def deliver_new(layer, request, *, now=0.0, reliable=False):
    dispatches = layer.receive(request, reliable=reliable, now=now)
    assert [type(d.action) for d in dispatches] == [DeliverRequest]
    return dispatches[0].transaction


def test_response_matches_the_client_transaction_by_branch_and_cseq_method():
    layer = TransactionLayer()
    invite = make_request()
    txn, dispatches = layer.start_client(invite, reliable=False, now=0.0)
    assert dispatches == [Dispatch(txn, SendMessage(invite))]
    ringing = make_reply(invite, 180, to_tag="bob")

    assert layer.receive(ringing, reliable=False, now=0.1) == [
        Dispatch(txn, DeliverResponse(ringing))
    ]
    assert txn.state is State.PROCEEDING


def test_response_to_cancel_does_not_match_the_invite_with_the_same_branch():
    layer = TransactionLayer()
    invite = make_request()
    invite_txn, _ = layer.start_client(invite, reliable=False, now=0.0)
    cancel = make_request("CANCEL", branch=invite.top_via.branch)
    cancel_txn, _ = layer.start_client(cancel, reliable=False, now=0.1)

    dispatches = layer.receive(make_reply(cancel, 200), reliable=False, now=0.2)

    assert dispatches[0].transaction is cancel_txn
    assert invite_txn.state is State.CALLING


def test_unmatched_response_goes_straight_to_the_tu():
    layer = TransactionLayer()
    stray = make_reply(make_request(), 200, to_tag="bob")
    assert layer.receive(stray, reliable=False, now=0.0) == [Dispatch(None, DeliverResponse(stray))]


def test_duplicate_client_branch_is_refused():
    layer = TransactionLayer()
    invite = make_request()
    layer.start_client(invite, reliable=False, now=0.0)
    with pytest.raises(LocalProtocolError, match="already exists"):
        layer.start_client(invite, reliable=False, now=0.0)


def test_retransmitted_request_matches_branch_sent_by_and_method():
    layer = TransactionLayer()
    invite = make_request()
    txn = deliver_new(layer, invite)
    assert isinstance(txn, InviteServerTransaction)
    assert layer.receive(parse_message(invite.to_bytes()), reliable=False, now=0.5) == []
    assert len(layer) == 1

    branch = invite.top_via.branch
    other_host = make_request(via=f"SIP/2.0/UDP 127.0.0.2:5060;branch={branch}")
    assert deliver_new(layer, other_host) is not txn
    other_method = make_request("OPTIONS", branch=branch)
    assert isinstance(deliver_new(layer, other_method), NonInviteServerTransaction)
    assert len(layer) == 3


def test_sent_by_port_defaults_to_5060_when_matching():
    layer = TransactionLayer()
    txn = deliver_new(layer, make_request(via="SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKp"))
    again = make_request(via="SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKp")
    layer.receive(again, reliable=False, now=0.1)
    assert len(layer) == 1
    assert txn.state is State.PROCEEDING


def test_ack_for_non_2xx_matches_the_invite_server_transaction():
    layer = TransactionLayer()
    invite = make_request()
    txn = deliver_new(layer, invite)
    layer.respond(txn, make_reply(invite, 486, to_tag="bob"), now=0.1)
    ack = make_request("ACK", branch=invite.top_via.branch, to_tag="bob")

    assert layer.receive(ack, reliable=False, now=0.2) == []
    assert txn.state is State.CONFIRMED


def test_ack_for_2xx_is_not_matched_and_goes_to_the_tu():
    layer = TransactionLayer()
    invite = make_request()
    txn = deliver_new(layer, invite)
    layer.respond(txn, make_reply(invite, 200, to_tag="bob"), now=0.1)
    ack = make_request("ACK", to_tag="bob")  # a new branch, per §13.2.2.4

    assert layer.receive(ack, reliable=False, now=0.2) == [Dispatch(None, DeliverRequest(ack))]
    assert txn.state is State.ACCEPTED


def test_cancel_finds_the_right_invite_server_transaction():
    layer = TransactionLayer()
    first, second = make_request(call_id="a"), make_request(call_id="b")
    first_txn, second_txn = deliver_new(layer, first), deliver_new(layer, second)
    cancel = make_request("CANCEL", branch=second.top_via.branch, call_id="b")

    cancel_txn = deliver_new(layer, cancel, now=0.3)

    assert isinstance(cancel_txn, NonInviteServerTransaction)
    assert layer.find_invite_for_cancel(cancel) is second_txn
    assert layer.find_invite_for_cancel(cancel) is not first_txn
    assert layer.find_invite_for_cancel(make_request("CANCEL")) is None


def test_rfc2543_request_retransmission_and_cancel_match_without_a_magic_cookie():
    layer = TransactionLayer()
    invite = make_request(via=OLD_VIA, cseq=5)
    txn = deliver_new(layer, invite)
    ringing = make_reply(invite, 180, to_tag="bob")
    layer.respond(txn, ringing, now=0.1)

    again = layer.receive(make_request(via=OLD_VIA, cseq=5), reliable=False, now=0.5)
    assert again == [Dispatch(txn, SendMessage(ringing))]
    cancel = make_request("CANCEL", via=OLD_VIA, cseq=5)
    assert layer.find_invite_for_cancel(cancel) is txn
    assert layer.find_invite_for_cancel(make_request("CANCEL", via=OLD_VIA, cseq=6)) is None
    different_uri = make_request(via=OLD_VIA, cseq=5, uri="sip:carol@127.0.0.1")
    assert deliver_new(layer, different_uri) is not txn


def test_rfc2543_ack_matches_by_the_to_tag_of_the_response():
    layer = TransactionLayer()
    invite = make_request(via=OLD_VIA, cseq=5)
    txn = deliver_new(layer, invite)
    layer.respond(txn, make_reply(invite, 404, to_tag="bob"), now=0.1)

    wrong_tag = make_request("ACK", via=OLD_VIA, cseq=5, to_tag="nobody")
    assert layer.receive(wrong_tag, reliable=False, now=0.2) == [
        Dispatch(None, DeliverRequest(wrong_tag))
    ]
    ack = make_request("ACK", via=OLD_VIA, cseq=5, to_tag="bob")
    assert layer.receive(ack, reliable=False, now=0.3) == []
    assert txn.state is State.CONFIRMED


def test_rfc2543_ack_for_2xx_is_delivered_from_the_accepted_state():
    layer = TransactionLayer()
    invite = make_request(via=OLD_VIA)
    txn = deliver_new(layer, invite)
    layer.respond(txn, make_reply(invite, 200, to_tag="bob"), now=0.1)
    ack = make_request("ACK", via=OLD_VIA, to_tag="bob")
    assert layer.receive(ack, reliable=False, now=0.2) == [Dispatch(txn, DeliverRequest(ack))]


def test_message_with_an_unusable_via_is_dropped_and_counted():
    layer = TransactionLayer()
    broken = Request(
        "OPTIONS",
        "sip:bob@127.0.0.1",
        [("Via", "garbage here"), ("From", "<sip:a@b>;tag=1"), ("To", "<sip:bob@127.0.0.1>"),
         ("Call-ID", "x"), ("CSeq", "1 OPTIONS")],
    )  # fmt: skip
    assert layer.receive(broken, reliable=False, now=0.0) == []
    assert layer.dropped == 1
    assert len(layer) == 0


def test_layer_schedules_timers_across_transactions_and_reaps_terminated_ones():
    layer = TransactionLayer()
    options, _ = layer.start_client(make_request("OPTIONS"), reliable=False, now=0.0)
    invite, _ = layer.start_client(make_request(), reliable=False, now=0.2)
    assert layer.next_deadline() == 0.5
    assert [d.transaction for d in layer.on_timer(0.5)] == [options]
    assert layer.next_deadline() == 0.7
    assert [d.transaction for d in layer.on_timer(0.7)] == [invite]

    while (deadline := layer.next_deadline()) is not None:
        dispatches = layer.on_timer(deadline)
    assert [d.action for d in dispatches] == [TimedOut(), Terminated()]
    assert len(layer) == 0


def test_respond_through_the_layer_requires_a_live_transaction():
    layer = TransactionLayer()
    request = make_request("OPTIONS")
    txn = deliver_new(layer, request, reliable=True)
    layer.respond(txn, make_reply(request, 200), now=0.1)
    assert len(layer) == 0
    with pytest.raises(LocalProtocolError, match="not a live transaction"):
        layer.respond(txn, make_reply(request, 200), now=0.2)


def test_tu_misuse_through_the_layer_still_reaps_the_transaction():
    layer = TransactionLayer()
    request = make_request("OPTIONS")
    txn = deliver_new(layer, request)
    layer.respond(txn, make_reply(request, 200), now=0.1)
    with pytest.raises(LocalProtocolError):
        layer.respond(txn, make_reply(request, 500), now=0.2)
    assert len(layer) == 0
    assert layer.next_deadline() is None


def test_transport_error_through_the_layer():
    layer = TransactionLayer()
    txn, _ = layer.start_client(make_request("OPTIONS"), reliable=True, now=0.0)
    dispatches = layer.transport_error(txn, now=0.1)
    assert [type(d.action).__name__ for d in dispatches] == ["TransportError", "Terminated"]
    assert len(layer) == 0
    assert layer.transport_error(txn, now=0.2) == []


def test_malformed_response_is_dropped_without_hurting_the_transaction():
    layer = TransactionLayer()
    invite = make_request()
    txn, _ = layer.start_client(invite, reliable=False, now=0.0)
    good = make_reply(invite, 486, to_tag="bob")
    bad = Response(486, "Busy Here", [(n, v) for n, v in good.headers.items() if n != "To"])
    bad.headers.add("To", "<<not an address")

    assert layer.receive(bad, reliable=False, now=0.1) == []
    assert layer.dropped == 1
    assert txn.state is State.CALLING
    assert [type(d.action) for d in layer.receive(good, reliable=False, now=0.2)] == [
        SendMessage,
        DeliverResponse,
    ]
