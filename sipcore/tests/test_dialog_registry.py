"""DialogRegistry: finding dialogues by id, re-ACKing 2xx retransmissions, one timer."""

import pytest

from sipcore.dialog import Dialog, DialogRegistry, SendBye
from sipcore.errors import LocalProtocolError
from sipcore.transaction import DeliverResponse, Dispatch, SendMessage, TransactionLayer
from sipcore.transaction.testing import make_reply, make_request

BOB = ("Contact", "<sip:bob@127.0.0.1:5070>")


def uas_dialog(call_id, now=0.0):
    invite = make_request(call_id=call_id)
    ok = make_reply(invite, 200, to_tag="bob", headers=[BOB])
    dialog = Dialog.uas(invite, ok)
    dialog.on_response_sent(invite, ok, now)
    return dialog


def test_requests_and_responses_find_their_dialogue():
    registry = DialogRegistry()
    invite = make_request()
    ok = make_reply(invite, 200, to_tag="bob", headers=[BOB])
    caller = Dialog.uac(invite, ok)
    registry.add(caller)

    bye = make_request("BYE", cseq=9, from_tag="bob", to_tag="alice-tag")
    assert registry.for_request(bye) is caller
    assert registry.for_response(ok) is caller
    assert registry.for_request(make_request("BYE", to_tag="other")) is None
    with pytest.raises(LocalProtocolError, match="already exists"):
        registry.add(Dialog.uac(invite, ok))


def test_terminated_dialogues_are_forgotten_so_the_tu_answers_481():
    registry = DialogRegistry()
    dialog = uas_dialog("a")
    registry.add(dialog)
    bye = make_request("BYE", call_id="a", cseq=2, to_tag="bob")
    dialog.receive_request(bye, now=1.0)
    assert registry.for_request(bye) is None
    assert len(registry) == 0


def test_a_stray_2xx_retransmission_gets_the_same_ack_again():
    registry = DialogRegistry()
    invite = make_request(cseq=3)
    ok = make_reply(invite, 200, to_tag="bob", headers=[BOB])
    caller = Dialog.uac(invite, ok)
    registry.add(caller)
    assert registry.ack_again(ok) is None  # not ACKed yet: the TU sends the first ACK
    ack = caller.create_ack(3)

    stray = TransactionLayer().receive(ok, reliable=False, now=40.0)
    assert stray == [Dispatch(None, DeliverResponse(ok))]
    assert registry.ack_again(ok) is ack
    assert registry.ack_again(make_reply(invite, 183, to_tag="bob")) is None
    info = caller.create_request("INFO")
    assert registry.ack_again(make_reply(info, 200, to_tag="bob")) is None


def test_one_timer_drives_every_dialogue():
    registry = DialogRegistry()
    first, second = uas_dialog("a", now=0.0), uas_dialog("b", now=0.2)
    registry.add(first)
    registry.add(second)
    assert registry.next_deadline() == 0.5

    assert [(d, type(a)) for d, a in registry.on_timer(0.5)] == [(first, SendMessage)]
    assert registry.next_deadline() == 0.7
    first.receive_request(make_request("ACK", call_id="a", to_tag="bob"), now=0.6)

    fired = []
    while (deadline := registry.next_deadline()) is not None:
        fired += registry.on_timer(deadline)
    assert fired[-1] == (second, SendBye(second.id))
    assert {d for d, _ in fired} == {second}
    registry.discard(second)
    assert list(registry) == [first]
