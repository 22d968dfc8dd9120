"""In-dialogue requests (RFC 3261 §12.2): Request-URI and Route, CSeq rules, target refresh."""

import pytest

from sipcore.dialog import Dialog, DialogState
from sipcore.errors import LocalProtocolError, RemoteProtocolError
from sipcore.message import parse_message
from sipcore.transaction.testing import make_reply, make_request

BOB = ("Contact", "<sip:bob@10.0.0.2:5070>")


def confirmed_uac(*record_routes, cseq=1):
    invite = make_request(cseq=cseq)
    headers = [BOB, *(("Record-Route", rr) for rr in record_routes)]
    return Dialog.uac(invite, make_reply(invite, 200, to_tag="bob", headers=headers))


def confirmed_uas(cseq=5):
    invite = make_request(cseq=cseq)
    ok = make_reply(invite, 200, to_tag="bob", headers=[BOB])
    dialog = Dialog.uas(invite, ok)
    dialog.on_response_sent(invite, ok, 0.0)
    return dialog, invite


def routes(request):
    return [str(route) for route in request.routes]


def test_without_a_route_set_the_request_goes_to_the_remote_target():
    bye = confirmed_uac().create_request("BYE")
    assert str(bye.uri) == "sip:bob@10.0.0.2:5070"
    assert routes(bye) == []
    assert (bye.cseq.seq, bye.cseq.method) == (2, "BYE")
    assert bye.from_addr.tag == "alice-tag" and bye.to_addr.tag == "bob"
    assert bye.top_via.branch.startswith("z9hG4bK")
    assert parse_message(bye.to_bytes()) == bye


def test_loose_routing_keeps_the_remote_target_and_lists_the_route_set():
    dialog = confirmed_uac("<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>")
    info = dialog.create_request("INFO", body=b"Signal=5", content_type="application/dtmf")
    assert str(info.uri) == "sip:bob@10.0.0.2:5070"
    assert routes(info) == ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    assert info.content_type == "application/dtmf" and info.body == b"Signal=5"


def test_strict_routing_puts_the_first_route_in_the_request_uri():
    dialog = confirmed_uac("<sip:p2.example.com;lr>", "<sip:p1.example.com;method=INVITE>")
    bye = dialog.create_request("BYE")
    assert str(bye.uri) == "sip:p1.example.com"
    assert routes(bye) == ["<sip:p2.example.com;lr>", "<sip:bob@10.0.0.2:5070>"]


def test_local_cseq_increments_and_ack_reuses_the_invite_number():
    dialog = confirmed_uac(cseq=7)
    reinvite = dialog.create_request("INVITE", body=b"v=0\r\n", content_type="application/sdp")
    refer = dialog.create_request("REFER", headers=[("Refer-To", "<sip:carol@127.0.0.1>")])
    update = dialog.create_request("UPDATE")
    assert [r.cseq.seq for r in (reinvite, refer, update)] == [8, 9, 10]
    assert all(r.contacts for r in (reinvite, refer, update))

    ack = dialog.create_ack(8)
    assert (ack.cseq.seq, ack.cseq.method) == (8, "ACK")
    assert str(ack.uri) == "sip:bob@10.0.0.2:5070"
    assert dialog.create_ack(8) is ack
    assert dialog.local_seq == 10


def test_first_request_of_the_callee_picks_a_fresh_cseq():
    dialog, _ = confirmed_uas()
    notify = dialog.create_request("NOTIFY", headers=[("Event", "refer")])
    assert 1 <= notify.cseq.seq < 2**31
    assert dialog.create_request("INFO").cseq.seq == notify.cseq.seq + 1
    assert notify.from_addr.tag == "bob" and notify.to_addr.tag == "alice-tag"
    assert str(notify.uri) == "sip:alice@127.0.0.1:5060"
    assert notify.top_via.host == "10.0.0.2" and notify.top_via.port == 5070


def test_remote_cseq_must_not_go_down():
    dialog, _ = confirmed_uas(cseq=5)
    dialog.receive_request(make_request("INFO", cseq=6, to_tag="bob"), now=1.0)
    assert dialog.remote_seq == 6
    with pytest.raises(RemoteProtocolError) as caught:
        dialog.receive_request(make_request("INFO", cseq=4, to_tag="bob"), now=2.0)
    assert caught.value.status_hint == 500
    assert dialog.remote_seq == 6


def test_uac_dialogue_accepts_any_first_remote_cseq():
    dialog = confirmed_uac(cseq=100)
    info = make_request("INFO", cseq=1, from_tag="bob", to_tag="alice-tag")
    dialog.receive_request(info, now=0.0)
    assert dialog.remote_seq == 1
    dialog.receive_request(make_request("BYE", cseq=2, from_tag="bob", to_tag="alice-tag"), 0.1)
    assert dialog.terminated


def test_received_bye_ends_the_dialogue_and_later_requests_get_481():
    dialog, _ = confirmed_uas(cseq=5)
    dialog.receive_request(make_request("BYE", cseq=6, to_tag="bob"), now=1.0)
    assert dialog.state is DialogState.TERMINATED
    with pytest.raises(RemoteProtocolError) as caught:
        dialog.receive_request(make_request("INFO", cseq=7, to_tag="bob"), now=2.0)
    assert caught.value.status_hint == 481


def test_request_for_another_dialogue_is_a_local_error():
    dialog, _ = confirmed_uas()
    with pytest.raises(LocalProtocolError, match="another dialogue"):
        dialog.receive_request(make_request("INFO", cseq=9, to_tag="someone"), now=0.0)


def test_target_refresh_on_2xx_to_our_reinvite():
    dialog = confirmed_uac()
    reinvite = dialog.create_request("INVITE")
    moved = ("Contact", "<sip:bob@10.9.9.9:5080>")
    dialog.receive_response(make_reply(reinvite, 200, to_tag="bob", headers=[moved]))
    assert str(dialog.remote_target) == "sip:bob@10.9.9.9:5080"
    assert dialog.state is DialogState.CONFIRMED


def test_failed_reinvite_keeps_the_dialogue_but_481_ends_it():
    dialog = confirmed_uac()
    reinvite = dialog.create_request("INVITE")
    dialog.receive_response(make_reply(reinvite, 488, to_tag="bob"))
    assert dialog.state is DialogState.CONFIRMED
    info = dialog.create_request("INFO")
    dialog.receive_response(make_reply(info, 481, to_tag="bob"))
    assert dialog.terminated


def test_target_refresh_when_we_accept_the_peers_update():
    dialog, _ = confirmed_uas(cseq=5)
    update = make_request(
        "UPDATE", cseq=6, to_tag="bob", contact="<sip:alice@192.0.2.7:5062;transport=tcp>"
    )
    dialog.receive_request(update, now=1.0)
    dialog.on_response_sent(update, make_reply(update, 200, headers=[BOB]), now=1.0)
    assert str(dialog.remote_target) == "sip:alice@192.0.2.7:5062;transport=tcp"
    assert dialog.next_deadline() == 0.5  # only the first INVITE's 2xx awaits an ACK


def test_requests_that_are_not_built_here():
    dialog = confirmed_uac()
    for method in ("ACK", "CANCEL"):
        with pytest.raises(LocalProtocolError, match=method):
            dialog.create_request(method)


def test_callee_must_not_send_bye_on_an_early_dialogue():
    invite = make_request()
    dialog = Dialog.uas(invite, make_reply(invite, 180, to_tag="bob", headers=[BOB]))
    with pytest.raises(LocalProtocolError, match="early"):
        dialog.create_request("BYE")


def test_default_via_brackets_an_ipv6_sent_by():
    invite = make_request()
    ok = make_reply(invite, 200, to_tag="bob", headers=[("Contact", "<sip:bob@[::1]:5070>")])
    dialog = Dialog.uas(invite, ok)
    info = dialog.create_request("INFO")
    assert info.top_via.host == "::1" and info.top_via.port == 5070
    assert "SIP/2.0/UDP [::1]:5070;rport;branch=z9hG4bK" in info.headers.get("Via")
