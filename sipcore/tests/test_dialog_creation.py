"""Dialogue creation from 1xx and 2xx (RFC 3261 §12.1), ids, route sets, state table."""

import pytest

from sipcore.dialog import DIALOG_TRANSITIONS, Dialog, DialogId, DialogInput, DialogState
from sipcore.errors import LocalProtocolError, RemoteProtocolError
from sipcore.transaction.testing import make_reply, make_request

RR = ("Record-Route", "<sip:p2.example.com;lr>, <sip:p1.example.com;lr>")
BOB = ("Contact", "<sip:bob@10.0.0.2:5070>")


def routes(dialog):
    return [str(route) for route in dialog.route_set]


def test_uac_dialogue_from_180_is_early_then_confirmed_by_200():
    invite = make_request(cseq=10)
    dialog = Dialog.uac(invite, make_reply(invite, 180, to_tag="bob", headers=[BOB, RR]))

    assert dialog.state is DialogState.EARLY
    assert dialog.id == DialogId("call-1@127.0.0.1", "alice-tag", "bob")
    assert routes(dialog) == ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    assert str(dialog.remote_target) == "sip:bob@10.0.0.2:5070"
    assert (dialog.local_seq, dialog.remote_seq) == (10, None)

    moved = ("Contact", "<sip:bob@10.0.0.3:5070>")
    dialog.receive_response(make_reply(invite, 200, to_tag="bob", headers=[moved, RR]))
    assert dialog.state is DialogState.CONFIRMED
    assert str(dialog.remote_target) == "sip:bob@10.0.0.3:5070"


def test_uac_dialogue_straight_from_200_is_confirmed():
    invite = make_request()
    dialog = Dialog.uac(invite, make_reply(invite, 200, to_tag="bob", headers=[BOB]))
    assert dialog.state is DialogState.CONFIRMED
    assert dialog.route_set == []


def test_early_dialogue_ends_on_a_non_2xx_final():
    invite = make_request()
    dialog = Dialog.uac(invite, make_reply(invite, 183, to_tag="bob", headers=[BOB]))
    dialog.receive_response(make_reply(invite, 486, to_tag="bob"))
    assert dialog.terminated


def test_uac_needs_a_to_tag_and_a_2xx_needs_a_contact():
    invite = make_request()
    with pytest.raises(RemoteProtocolError, match="To tag"):
        Dialog.uac(invite, make_reply(invite, 180, headers=[BOB]))
    with pytest.raises(RemoteProtocolError, match="Contact"):
        Dialog.uac(invite, make_reply(invite, 200, to_tag="bob"))
    with pytest.raises(LocalProtocolError, match="does not create"):
        Dialog.uac(invite, make_reply(invite, 100, to_tag="bob"))


def test_uas_dialogue_keeps_record_route_in_order_and_the_callers_contact():
    invite = make_request(cseq=3, headers=[RR])
    ringing = make_reply(invite, 180, to_tag="bob", headers=[BOB])
    dialog = Dialog.uas(invite, ringing)

    assert dialog.state is DialogState.EARLY
    assert dialog.id == DialogId("call-1@127.0.0.1", "bob", "alice-tag")
    assert routes(dialog) == ["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"]
    assert str(dialog.remote_target) == "sip:alice@127.0.0.1:5060"
    assert (dialog.local_seq, dialog.remote_seq) == (None, 3)

    dialog.on_response_sent(invite, make_reply(invite, 200, to_tag="bob", headers=[BOB]), 0.0)
    assert dialog.state is DialogState.CONFIRMED


def test_uas_early_dialogue_ends_when_we_reject_the_invite():
    invite = make_request()
    dialog = Dialog.uas(invite, make_reply(invite, 180, to_tag="bob", headers=[BOB]))
    dialog.on_response_sent(invite, make_reply(invite, 480, to_tag="bob"), 0.0)
    assert dialog.terminated


def test_uas_needs_our_tag_and_contact_and_the_callers_contact():
    invite = make_request()
    with pytest.raises(LocalProtocolError, match="To tag"):
        Dialog.uas(invite, make_reply(invite, 200, headers=[BOB]))
    with pytest.raises(LocalProtocolError, match="Contact"):
        Dialog.uas(invite, make_reply(invite, 200, to_tag="bob"))
    no_contact = make_request(contact=None)
    with pytest.raises(RemoteProtocolError, match="Contact"):
        Dialog.uas(no_contact, make_reply(no_contact, 200, to_tag="bob", headers=[BOB]))


def test_dialogue_ids_from_both_sides_of_one_exchange_mirror_each_other():
    invite = make_request()
    ok = make_reply(invite, 200, to_tag="bob", headers=[BOB])
    uac, uas = Dialog.uac(invite, ok), Dialog.uas(invite, ok)
    assert (uac.id.local_tag, uac.id.remote_tag) == (uas.id.remote_tag, uas.id.local_tag)


def test_state_table_is_complete_for_live_states_and_rejects_unknown_pairs():
    for state in (DialogState.EARLY, DialogState.CONFIRMED):
        assert DIALOG_TRANSITIONS[state, DialogInput.BYE] is DialogState.TERMINATED
        assert DIALOG_TRANSITIONS[state, DialogInput.GONE] is DialogState.TERMINATED
    invite = make_request()
    dialog = Dialog.uac(invite, make_reply(invite, 200, to_tag="bob", headers=[BOB]))
    dialog.create_request("BYE")
    with pytest.raises(LocalProtocolError, match="terminated"):
        dialog.create_request("INFO")
