"""Client transactions (RFC 3261 §17.1, RFC 6026) under a stepped clock."""

import pytest

from sipcore.errors import LocalProtocolError
from sipcore.transaction import (
    ClientTransaction,
    DeliverResponse,
    SendMessage,
    State,
    Terminated,
    TimedOut,
    Timer,
    TimerConfig,
    TransportError,
    build_cancel,
)
from sipcore.transaction.testing import make_reply, make_request, run_timers


def sends(happened):
    return [time for time, action in happened if isinstance(action, SendMessage)]


def kinds(actions):
    return [type(action) for action in actions]


def test_invite_retransmits_on_timer_a_and_times_out_on_timer_b():
    invite = make_request()
    txn, actions = ClientTransaction.create(invite, reliable=False, now=0.0)
    assert kinds(actions) == [SendMessage]
    assert txn.state is State.CALLING
    assert txn.timers() == {Timer.A: 0.5, Timer.B: 32.0}

    happened = run_timers(txn, until=100.0)

    assert sends(happened) == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert all(a.message is invite for _, a in happened if isinstance(a, SendMessage))
    assert happened[-2:] == [(32.0, TimedOut()), (32.0, Terminated())]
    assert txn.terminated and txn.next_deadline() is None


def test_invite_over_a_reliable_transport_never_retransmits():
    txn, _ = ClientTransaction.create(make_request(), reliable=True, now=10.0)
    assert txn.timers() == {Timer.B: 42.0}
    assert run_timers(txn, until=100.0) == [(42.0, TimedOut()), (42.0, Terminated())]


def test_provisional_response_stops_retransmission_and_timer_b():
    txn, _ = ClientTransaction.create(make_request(), reliable=False, now=0.0)
    run_timers(txn, until=1.0)
    ringing = make_reply(txn.request, 180, to_tag="bob")

    assert txn.receive(ringing, now=1.2) == [DeliverResponse(ringing)]
    assert txn.state is State.PROCEEDING
    assert txn.next_deadline() is None
    assert txn.receive(ringing, now=2.0) == [DeliverResponse(ringing)]


def test_non_2xx_final_is_acked_inside_the_transaction_per_17_1_1_3():
    route = "<sip:proxy.example.com;lr>"
    invite = make_request(cseq=7, headers=[("Route", route)], body=b"v=0\r\n")
    txn, _ = ClientTransaction.create(invite, reliable=False, now=0.0)
    busy = make_reply(invite, 486, to_tag="bob-tag")

    actions = txn.receive(busy, now=0.3)

    assert kinds(actions) == [SendMessage, DeliverResponse]
    ack = actions[0].message
    assert ack.method == "ACK"
    assert str(ack.uri) == str(invite.uri)
    assert [str(v) for v in ack.vias] == [str(invite.top_via)]
    assert ack.to_addr.tag == "bob-tag"
    assert ack.from_addr.tag == invite.from_addr.tag
    assert ack.call_id == invite.call_id
    assert (ack.cseq.seq, ack.cseq.method) == (7, "ACK")
    assert [str(r) for r in ack.routes] == [route]
    assert ack.body == b""
    assert txn.state is State.COMPLETED
    assert txn.timers() == {Timer.D: 32.3}


def test_retransmitted_final_is_acked_again_but_not_passed_up():
    invite = make_request()
    txn, _ = ClientTransaction.create(invite, reliable=False, now=0.0)
    busy = make_reply(invite, 486, to_tag="bob")
    first_ack = txn.receive(busy, now=0.1)[0].message

    assert txn.request is None  # Completed sends only the ACK it built
    assert txn.receive(busy, now=0.6) == [SendMessage(first_ack)]
    assert txn.receive(make_reply(invite, 180, to_tag="bob"), now=0.7) == []
    assert run_timers(txn, until=100.0) == [(32.1, Terminated())]


def test_timer_d_is_zero_over_a_reliable_transport():
    txn, _ = ClientTransaction.create(make_request(), reliable=True, now=0.0)
    actions = txn.receive(make_reply(txn.request, 603, to_tag="bob"), now=0.1)
    assert kinds(actions) == [SendMessage, DeliverResponse, Terminated]
    assert txn.terminated


def test_2xx_moves_to_accepted_and_timer_m_passes_retransmissions_up_rfc6026():
    invite = make_request()
    txn, _ = ClientTransaction.create(invite, reliable=False, now=0.0)
    ok = make_reply(invite, 200, to_tag="bob", headers=[("Contact", "<sip:bob@h>")])

    assert txn.receive(ok, now=0.2) == [DeliverResponse(ok)]
    assert txn.state is State.ACCEPTED
    assert txn.timers() == {Timer.M: 32.2}
    assert txn.request is None  # Accepted sends nothing: the INVITE is not kept 64·T1 more
    assert txn.receive(ok, now=0.7) == [DeliverResponse(ok)]
    assert txn.receive(make_reply(invite, 180, to_tag="bob"), now=0.8) == []
    assert txn.receive(make_reply(invite, 500, to_tag="x"), now=0.9) == []
    assert run_timers(txn, until=100.0) == [(32.2, Terminated())]


def test_timer_m_still_runs_over_a_reliable_transport():
    txn, _ = ClientTransaction.create(make_request(), reliable=True, now=0.0)
    txn.receive(make_reply(txn.request, 200, to_tag="bob"), now=1.0)
    assert txn.timers() == {Timer.M: 33.0}


def test_non_invite_timer_e_doubles_up_to_t2_and_timer_f_times_out():
    txn, actions = ClientTransaction.create(make_request("OPTIONS"), reliable=False, now=0.0)
    assert kinds(actions) == [SendMessage]
    assert txn.state is State.TRYING

    happened = run_timers(txn, until=100.0)

    assert sends(happened) == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert happened[-2:] == [(32.0, TimedOut()), (32.0, Terminated())]


def test_non_invite_timers_follow_a_custom_config():
    config = TimerConfig(t1=0.1, t2=0.4, t4=1.0)
    txn, _ = ClientTransaction.create(
        make_request("REGISTER"), reliable=False, now=0.0, config=config
    )
    happened = run_timers(txn, until=100.0)
    assert sends(happened)[:5] == pytest.approx([0.1, 0.3, 0.7, 1.1, 1.5])
    assert happened[-1][0] == pytest.approx(6.4)


def test_non_invite_proceeding_retransmits_every_t2():
    txn, _ = ClientTransaction.create(make_request("BYE", to_tag="b"), reliable=False, now=0.0)
    run_timers(txn, until=0.5)
    txn.receive(make_reply(txn.request, 100), now=0.6)
    assert txn.state is State.PROCEEDING

    happened = run_timers(txn, until=15.0)

    assert sends(happened) == [1.5, 5.5, 9.5, 13.5]


def test_non_invite_final_waits_timer_k_then_terminates():
    txn, _ = ClientTransaction.create(make_request("OPTIONS"), reliable=False, now=0.0)
    ok = make_reply(txn.request, 200)
    assert txn.receive(ok, now=0.2) == [DeliverResponse(ok)]
    assert txn.timers() == {Timer.K: 5.2}
    assert txn.request is None
    assert txn.receive(ok, now=1.0) == []
    assert run_timers(txn, until=100.0) == [(5.2, Terminated())]


def test_timer_k_is_zero_over_a_reliable_transport():
    txn, _ = ClientTransaction.create(make_request("OPTIONS"), reliable=True, now=0.0)
    assert txn.timers() == {Timer.F: 32.0}
    actions = txn.receive(make_reply(txn.request, 404), now=0.2)
    assert kinds(actions) == [DeliverResponse, Terminated]


@pytest.mark.parametrize("method", ["INVITE", "OPTIONS"])
def test_transport_error_terminates_and_tells_the_tu(method):
    txn, _ = ClientTransaction.create(make_request(method), reliable=False, now=0.0)
    assert txn.on_transport_error(now=0.1) == [TransportError(), Terminated()]
    assert txn.next_deadline() is None


def test_misuse_is_a_local_protocol_error():
    with pytest.raises(LocalProtocolError, match="ACK"):
        ClientTransaction.create(make_request("ACK"), reliable=False, now=0.0)
    with pytest.raises(LocalProtocolError, match="branch"):
        ClientTransaction.create(
            make_request(via="SIP/2.0/UDP 127.0.0.1:5060"), reliable=False, now=0.0
        )
    options = make_request("OPTIONS")
    txn, _ = ClientTransaction.create(options, reliable=True, now=0.0)
    txn.receive(make_reply(options, 200), now=0.1)
    with pytest.raises(LocalProtocolError, match="terminated"):
        txn.receive(make_reply(options, 200), now=0.2)


def test_calling_early_on_timer_does_nothing():
    txn, _ = ClientTransaction.create(make_request(), reliable=False, now=0.0)
    assert txn.on_timer(0.4) == []
    assert txn.state is State.CALLING


def test_cancel_copies_the_request_per_9_1():
    invite = make_request(cseq=4, headers=[("Route", "<sip:proxy.example.com;lr>")])
    cancel = build_cancel(invite)
    assert cancel.method == "CANCEL"
    assert str(cancel.uri) == str(invite.uri)
    assert [str(v) for v in cancel.vias] == [str(invite.top_via)]
    assert (cancel.cseq.seq, cancel.cseq.method) == (4, "CANCEL")
    assert str(cancel.from_addr) == str(invite.from_addr)
    assert str(cancel.to_addr) == str(invite.to_addr)
    assert [str(r) for r in cancel.routes] == ["<sip:proxy.example.com;lr>"]
    with pytest.raises(LocalProtocolError):
        build_cancel(cancel)
