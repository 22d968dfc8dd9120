"""A client and a server transaction layer on a lossy in-memory UDP/TCP link.

Every message crosses the link as bytes and is parsed again by sipcore.message;
the clock jumps from deadline to deadline, so no test sleeps.
"""

from sipcore.transaction import (
    DeliverRequest,
    DeliverResponse,
    State,
    TimedOut,
    build_cancel,
)
from sipcore.transaction.testing import CLIENT, SERVER, LinkedLayers, make_reply, make_request


def answer_with(status):
    """A server TU that answers every new request at once with ``status``."""

    def tu(link, transaction, action):
        if isinstance(action, DeliverRequest) and action.request.method != "ACK":
            link.respond(transaction, make_reply(action.request, status, to_tag="bob"))

    return tu


def delivered(link):
    return [e.time for e in link.events[SERVER] if isinstance(e.action, DeliverRequest)]


def timeouts(link, side):
    return [e.time for e in link.events[side] if isinstance(e.action, TimedOut)]


def statuses(link, side):
    return [
        (e.time, e.action.response.status)
        for e in link.events[side]
        if isinstance(e.action, DeliverResponse)
    ]


def test_lost_invites_are_retransmitted_on_timer_a_until_one_arrives():
    link = LinkedLayers(lose={"INVITE": 2}, server_tu=answer_with(486))
    link.send(make_request())
    link.run(until=100.0)

    assert link.sent(CLIENT, "INVITE") == [0.0, 0.5, 1.5]
    assert link.sent(CLIENT, "INVITE", delivered_only=True) == [1.5]
    assert delivered(link) == [1.5]
    assert statuses(link, CLIENT) == [(1.5, 486)]
    assert link.sent(CLIENT, "ACK") == [1.5]
    assert link.sent(SERVER, "486") == [1.5]
    assert len(link.client) == len(link.server) == 0


def test_lost_non_invite_response_is_resent_when_the_request_is_retransmitted():
    link = LinkedLayers(lose={"200": 1}, server_tu=answer_with(200))
    link.send(make_request("OPTIONS"))
    link.run(until=0.5)

    assert link.sent(CLIENT, "OPTIONS") == [0.0, 0.5]
    assert link.sent(SERVER, "200") == [0.0, 0.5]
    assert statuses(link, CLIENT) == [(0.5, 200)]
    assert delivered(link) == [0.0]


def test_lost_100_trying_is_resent_on_the_invite_retransmission():
    link = LinkedLayers(lose={"100": 1})
    txn = link.send(make_request())
    link.run(until=2.0)

    assert link.sent(SERVER, "100") == [0.2, 0.5]
    assert link.sent(CLIENT, "INVITE") == [0.0, 0.5]
    assert txn.state is State.PROCEEDING
    assert delivered(link) == [0.0]


def test_lost_invite_final_is_resent_on_retransmission_and_timer_g():
    link = LinkedLayers(lose={"486": 1}, server_tu=answer_with(486))
    link.send(make_request())
    link.run(until=100.0)

    assert link.sent(SERVER, "486") == [0.0, 0.5]
    assert link.sent(CLIENT, "ACK") == [0.5]
    assert statuses(link, CLIENT) == [(0.5, 486)]


def test_lost_ack_is_repaired_by_timer_g_retransmission():
    link = LinkedLayers(lose={"ACK": 1}, server_tu=answer_with(486))
    link.send(make_request())

    link.run(until=0.4)
    server_txn = link.events[SERVER][0].transaction
    assert server_txn.state is State.COMPLETED
    link.run(until=0.5)

    assert link.sent(SERVER, "486") == [0.0, 0.5]
    assert link.sent(CLIENT, "ACK") == [0.0, 0.5]
    assert server_txn.state is State.CONFIRMED
    assert statuses(link, CLIENT) == [(0.0, 486)]


def test_every_ack_lost_ends_in_timer_h_on_the_server():
    link = LinkedLayers(lose={"ACK": 1000}, server_tu=answer_with(486))
    link.send(make_request())
    link.run(until=100.0)

    retransmissions = [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert link.sent(SERVER, "486") == [0.0, *retransmissions]
    assert link.sent(CLIENT, "ACK") == [0.0, *retransmissions]
    assert timeouts(link, SERVER) == [32.0]
    assert len(link.client) == len(link.server) == 0


def test_reliable_transport_sends_each_message_once_and_ends_at_once():
    link = LinkedLayers(reliable=True, server_tu=answer_with(486))
    link.send(make_request())
    assert [(r.sender, r.label) for r in link.wire] == [
        (CLIENT, "INVITE"),
        (SERVER, "486"),
        (CLIENT, "ACK"),
    ]
    assert len(link.client) == len(link.server) == 0


def test_reliable_non_invite_ends_both_sides_at_once():
    link = LinkedLayers(reliable=True, server_tu=answer_with(200))
    link.send(make_request("OPTIONS"))
    assert len(link.client) == len(link.server) == 0
    assert statuses(link, CLIENT) == [(0.0, 200)]


def test_unanswered_request_over_udp_times_out_on_both_sides():
    link = LinkedLayers(lose={"OPTIONS": 1000})
    link.send(make_request("OPTIONS"))
    link.run(until=100.0)
    assert timeouts(link, CLIENT) == [32.0]
    assert len(link.wire) == 11


def test_cancel_reaches_the_right_invite_and_ends_it_with_487():
    def callee(link, transaction, action):
        if not isinstance(action, DeliverRequest):
            return
        request = action.request
        if request.method == "INVITE":
            link.respond(transaction, make_reply(request, 180, to_tag="bob"))
        elif request.method == "CANCEL":
            invite_txn = link.server.find_invite_for_cancel(request)
            link.respond(transaction, make_reply(request, 200, to_tag="bob"))
            link.respond(invite_txn, make_reply(invite_txn.request, 487, to_tag="bob"))

    link = LinkedLayers(server_tu=callee)
    other = link.send(make_request(call_id="other-call"))
    invite = make_request()
    invite_txn = link.send(invite)
    link.run(until=1.0)
    link.send(build_cancel(invite))
    link.run(until=100.0)

    assert statuses(link, CLIENT) == [(0.0, 180), (0.0, 180), (1.0, 200), (1.0, 487)]
    assert link.sent(CLIENT, "ACK") == [1.0]
    assert invite_txn.terminated
    assert other.state is State.PROCEEDING
    assert len(link.client) == len(link.server) == 1  # only the other call's INVITE is left
