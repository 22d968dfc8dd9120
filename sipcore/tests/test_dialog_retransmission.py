"""2xx retransmission until ACK and BYE after 64·T1 (RFC 3261 §13.3.1.4, §13.2.2.4)."""

from sipcore.dialog import Dialog, DialogState, SendBye
from sipcore.transaction import DeliverRequest, DeliverResponse, SendMessage, TimerConfig
from sipcore.transaction.testing import (
    CLIENT,
    SERVER,
    LinkedLayers,
    make_reply,
    make_request,
    run_timers,
)

BOB = ("Contact", "<sip:bob@127.0.0.1:5070>")
RETRANSMISSIONS = [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]


def accepted_uas(*, now=0.0, config=None):
    invite = make_request()
    ok = make_reply(invite, 200, to_tag="bob", headers=[BOB])
    dialog = Dialog.uas(invite, ok, config=config)
    dialog.on_response_sent(invite, ok, now)
    return dialog, invite, ok


def test_2xx_is_retransmitted_doubling_to_t2_and_bye_is_asked_for_after_64_t1():
    dialog, _, ok = accepted_uas()
    happened = run_timers(dialog, until=100.0)

    assert [t for t, a in happened if a == SendMessage(ok)] == RETRANSMISSIONS
    assert happened[-1] == (32.0, SendBye(dialog.id))
    assert dialog.state is DialogState.CONFIRMED
    assert dialog.next_deadline() is None


def test_retransmission_follows_the_timer_config():
    dialog, _, _ = accepted_uas(now=10.0, config=TimerConfig(t1=0.1, t2=0.2))
    happened = run_timers(dialog, until=100.0)
    times = [round(t, 6) for t, _ in happened]
    assert times[:4] == [10.1, 10.3, 10.5, 10.7]
    assert happened[-1] == (16.4, SendBye(dialog.id))


def test_ack_stops_the_retransmission():
    dialog, _, _ = accepted_uas()
    run_timers(dialog, until=1.5)
    dialog.receive_request(make_request("ACK", to_tag="bob"), now=2.0)
    assert dialog.next_deadline() is None
    assert run_timers(dialog, until=100.0) == []


def test_ack_for_another_invite_does_not_stop_it():
    dialog, _, _ = accepted_uas()
    dialog.receive_request(make_request("ACK", cseq=99, to_tag="bob"), now=0.2)
    assert dialog.next_deadline() == 0.5


def test_2xx_to_a_reinvite_is_retransmitted_too_and_a_bye_stops_everything():
    dialog, _, _ = accepted_uas()
    dialog.receive_request(make_request("ACK", to_tag="bob"), now=0.1)
    reinvite = make_request(cseq=2, to_tag="bob")
    dialog.receive_request(reinvite, now=5.0)
    dialog.on_response_sent(reinvite, make_reply(reinvite, 200, headers=[BOB]), now=5.0)
    assert dialog.next_deadline() == 5.5
    dialog.receive_request(make_request("BYE", cseq=3, to_tag="bob"), now=5.2)
    assert dialog.next_deadline() is None


class Call:
    """Alice's and Bob's TUs: Bob answers INVITE with 180 then 200 and keeps a dialogue;
    Alice builds her dialogue from the responses and ACKs every 2xx she sees."""

    def __init__(self, link):
        self.link = link
        self.alice = None
        self.bob = None
        self.byes = []
        link.client_tu = self.on_alice
        link.server_tu = self.on_bob

    def on_bob(self, link, transaction, action):
        if isinstance(action, SendBye):
            self.byes.append(link.now)
            return
        if not isinstance(action, DeliverRequest):
            return
        request = action.request
        if request.method == "ACK":
            self.bob.receive_request(request, link.now)
        elif request.method == "INVITE":
            ringing = make_reply(request, 180, to_tag="bob", headers=[BOB])
            self.bob = Dialog.uas(request, ringing)
            link.respond(transaction, ringing)
            ok = make_reply(request, 200, to_tag="bob", headers=[BOB])
            link.respond(transaction, ok)
            self.bob.on_response_sent(request, ok, link.now)
            link.watch(SERVER, self.bob)

    def on_alice(self, link, transaction, action):
        if isinstance(action, DeliverRequest) and action.request.method == "BYE":
            self.alice.receive_request(action.request, link.now)
            link.respond(transaction, make_reply(action.request, 200))
        if not isinstance(action, DeliverResponse):
            return
        response = action.response
        if self.alice is None:
            self.alice = Dialog.uac(transaction.request, response)
        else:
            self.alice.receive_response(response)
        if response.status == 200:
            link.transmit(CLIENT, self.alice.create_ack(response.cseq.seq))


def test_lost_acks_are_repaired_by_2xx_retransmission_over_a_lossy_link():
    link = LinkedLayers(lose={"ACK": 2})
    call = Call(link)
    link.send(make_request())
    link.run(until=100.0)

    assert link.sent(SERVER, "200") == [0.0, 0.5, 1.5]
    assert link.sent(CLIENT, "ACK") == [0.0, 0.5, 1.5]
    assert link.sent(CLIENT, "ACK", delivered_only=True) == [1.5]
    assert call.alice.state is call.bob.state is DialogState.CONFIRMED
    assert call.bob.next_deadline() is None
    assert call.byes == []
    assert len(link.client) == len(link.server) == 0


def test_every_ack_lost_makes_the_callee_ask_for_bye_after_64_t1():
    link = LinkedLayers(lose={"ACK": 1000})
    call = Call(link)
    link.send(make_request())
    link.run(until=32.0)

    assert link.sent(SERVER, "200") == [0.0, *RETRANSMISSIONS]
    assert call.byes == [32.0]
    bye = call.bob.create_request("BYE")
    link.send(bye, side=SERVER)
    assert call.bob.terminated and call.alice.terminated
    assert link.sent(CLIENT, "200") == [32.0]


def test_reliable_transport_still_retransmits_the_2xx_end_to_end():
    link = LinkedLayers(reliable=True, lose={"ACK": 1})
    call = Call(link)
    link.send(make_request())
    link.run(until=1.0)
    assert link.sent(SERVER, "200") == [0.0, 0.5]
    assert call.bob.next_deadline() is None
