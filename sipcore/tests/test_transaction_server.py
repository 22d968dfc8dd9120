"""Server transactions (RFC 3261 §17.2, RFC 6026) under a stepped clock."""

import pytest

from sipcore.errors import LocalProtocolError
from sipcore.transaction import (
    DeliverRequest,
    SendMessage,
    ServerTransaction,
    State,
    Terminated,
    TimedOut,
    Timer,
    TransportError,
)
from sipcore.transaction.testing import make_reply, make_request, run_timers


def sent(happened):
    return [(time, action.message.status) for time, action in happened]


def new_invite_server(*, reliable=False, now=0.0):
    invite = make_request()
    txn, actions = ServerTransaction.create(invite, reliable=reliable, now=now)
    assert actions == [DeliverRequest(invite)]
    return txn


def test_invite_server_sends_100_trying_when_the_tu_is_silent_for_200ms():
    txn = new_invite_server()
    assert txn.state is State.PROCEEDING
    assert txn.timers() == {Timer.TRYING: 0.2}

    happened = run_timers(txn, until=10.0)

    assert sent(happened) == [(0.2, 100)]
    trying = happened[0][1].message
    assert trying.to_addr.tag is None
    assert trying.cseq.seq == txn.request.cseq.seq
    assert txn.last_response is trying


def test_no_100_trying_when_the_tu_answers_within_200ms():
    txn = new_invite_server()
    ringing = make_reply(txn.request, 180, to_tag="bob")
    assert txn.respond(ringing, now=0.1) == [SendMessage(ringing)]
    assert txn.next_deadline() is None


def test_retransmitted_invite_gets_the_last_provisional_again():
    txn = new_invite_server()
    ringing = make_reply(txn.request, 180, to_tag="bob")
    txn.respond(ringing, now=0.1)
    assert txn.receive(txn.request, now=0.5) == [SendMessage(ringing)]
    assert txn.state is State.PROCEEDING


def test_non_2xx_final_retransmits_on_timer_g_capped_at_t2_until_timer_h():
    txn = new_invite_server()
    busy = make_reply(txn.request, 486, to_tag="bob")
    assert txn.respond(busy, now=0.0) == [SendMessage(busy)]
    assert txn.state is State.COMPLETED
    assert txn.timers() == {Timer.G: 0.5, Timer.H: 32.0}

    happened = run_timers(txn, until=100.0)

    times = [time for time, action in happened if isinstance(action, SendMessage)]
    assert times == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert happened[-2:] == [(32.0, TimedOut()), (32.0, Terminated())]


def test_ack_confirms_and_timer_i_absorbs_ack_retransmissions():
    txn = new_invite_server()
    invite = txn.request
    busy = make_reply(invite, 486, to_tag="bob")
    txn.respond(busy, now=0.0)
    ack = make_request("ACK", branch=invite.top_via.branch, to_tag="bob")

    assert txn.receive(ack, now=0.7) == []
    assert txn.state is State.CONFIRMED
    assert txn.timers() == {Timer.I: 5.7}
    assert txn.request is None and txn.last_response is None  # Confirmed only absorbs
    assert txn.receive(ack, now=1.0) == []
    assert txn.receive(invite, now=1.1) == []
    assert run_timers(txn, until=100.0) == [(5.7, Terminated())]


def test_reliable_transport_has_no_timer_g_and_timer_i_is_zero():
    txn = new_invite_server(reliable=True)
    invite = txn.request
    txn.respond(make_reply(invite, 486, to_tag="bob"), now=0.0)
    assert txn.timers() == {Timer.H: 32.0}
    ack = make_request("ACK", branch=invite.top_via.branch, to_tag="bob")
    assert txn.receive(ack, now=0.1) == [Terminated()]


def test_retransmitted_invite_in_completed_gets_the_final_again():
    txn = new_invite_server()
    invite = txn.request
    busy = make_reply(invite, 486, to_tag="bob")
    txn.respond(busy, now=0.0)
    assert txn.receive(invite, now=0.3) == [SendMessage(busy)]
    assert txn.request is None and txn.last_response is busy


def test_2xx_moves_to_accepted_where_timer_l_absorbs_the_invite_rfc6026():
    txn = new_invite_server()
    invite = txn.request
    ok = make_reply(invite, 200, to_tag="bob")
    assert txn.respond(ok, now=0.1) == [SendMessage(ok)]
    assert txn.state is State.ACCEPTED
    assert txn.timers() == {Timer.L: 32.1}
    # The TU retransmits its 2xx: the transaction keeps neither message for 64·T1.
    assert txn.request is None and txn.last_response is None

    assert txn.receive(invite, now=0.5) == []
    assert txn.respond(ok, now=0.6) == [SendMessage(ok)]
    ack = make_request("ACK", branch=invite.top_via.branch, to_tag="bob")
    assert txn.receive(ack, now=0.7) == [DeliverRequest(ack)]
    assert run_timers(txn, until=100.0) == [(32.1, Terminated())]


def test_a_second_final_response_is_a_local_error_and_ends_the_transaction():
    txn = new_invite_server()
    invite = txn.request
    txn.respond(make_reply(invite, 486, to_tag="bob"), now=0.0)
    with pytest.raises(LocalProtocolError, match="Completed cannot handle 2xx from TU"):
        txn.respond(make_reply(invite, 200, to_tag="bob"), now=0.1)
    assert txn.terminated and txn.next_deadline() is None


def test_non_invite_server_absorbs_retransmissions_until_the_tu_answers():
    request = make_request("OPTIONS")
    txn, actions = ServerTransaction.create(request, reliable=False, now=0.0)
    assert actions == [DeliverRequest(request)]
    assert txn.state is State.TRYING
    assert txn.next_deadline() is None
    assert txn.receive(request, now=0.5) == []

    trying = make_reply(request, 100)
    assert txn.respond(trying, now=0.6) == [SendMessage(trying)]
    assert txn.state is State.PROCEEDING
    assert txn.receive(request, now=1.5) == [SendMessage(trying)]


def test_non_invite_final_is_resent_on_retransmission_until_timer_j():
    request = make_request("OPTIONS")
    txn, _ = ServerTransaction.create(request, reliable=False, now=0.0)
    ok = make_reply(request, 200)
    assert txn.respond(ok, now=0.1) == [SendMessage(ok)]
    assert txn.timers() == {Timer.J: 32.1}
    assert txn.request is None  # the layer matches retransmissions by key
    assert txn.receive(request, now=0.5) == [SendMessage(ok)]
    with pytest.raises(LocalProtocolError):
        txn.respond(make_reply(request, 500), now=0.6)


def test_timer_j_is_zero_over_a_reliable_transport():
    request = make_request("REGISTER")
    txn, _ = ServerTransaction.create(request, reliable=True, now=0.0)
    ok = make_reply(request, 200)
    assert txn.respond(ok, now=0.1) == [SendMessage(ok), Terminated()]


def test_ack_never_creates_a_server_transaction():
    with pytest.raises(LocalProtocolError, match="ACK"):
        ServerTransaction.create(make_request("ACK"), reliable=False, now=0.0)


def test_invite_server_reports_transport_errors_but_lives_on_rfc6026():
    txn = new_invite_server()
    ok = make_reply(txn.request, 200, to_tag="bob")
    txn.respond(ok, now=0.0)
    assert txn.on_transport_error(now=0.1) == [TransportError()]
    assert txn.state is State.ACCEPTED
    assert txn.respond(ok, now=0.5) == [SendMessage(ok)]


def test_non_invite_server_ends_on_a_transport_error():
    txn, _ = ServerTransaction.create(make_request("OPTIONS"), reliable=True, now=0.0)
    assert txn.on_transport_error(now=0.1) == [TransportError(), Terminated()]
