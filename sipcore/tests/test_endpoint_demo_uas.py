"""The demo UAS driven by a sipcore client endpoint: digest REGISTER, calls, 2xx retransmission."""

import asyncio

import pytest

from sipcore.auth import DigestClient
from sipcore.endpoint import Endpoint, EndpointConfig
from sipcore.message import Request, Response, new_call_id, new_tag
from sipcore.transaction import TimerConfig, build_cancel
from sipcore.uas_demo import DemoUas, sdp_answer

TIMERS = TimerConfig(t1=0.02, t2=0.08, t4=0.1)

OFFER = (
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 15300 RTP/AVP 9 8 101\r\na=rtpmap:8 PCMA/8000\r\n"
)


@pytest.fixture
async def setup():
    server = Endpoint(EndpointConfig(timers=TIMERS))
    demo = DemoUas(server, users={"alice": "secret"}, ring_seconds=0.05)
    server.on_request = demo.handle
    client = Endpoint(EndpointConfig(timers=TIMERS))
    address = await server.listen("udp", "127.0.0.1", 0)
    yield demo, client, address
    await demo.close()
    await client.close()
    await server.close()


def request(method: str, address, *, body: bytes = b"", call_id=None, tag=None, to_tag=None):
    to = "<sip:service@127.0.0.1>" + (f";tag={to_tag}" if to_tag else "")
    headers = [
        ("From", f"<sip:alice@127.0.0.1>;tag={tag or new_tag()}"),
        ("To", to),
        ("Call-ID", call_id or new_call_id()),
        ("CSeq", f"{2 if method == 'BYE' else 1} {method}"),
        ("Contact", "<sip:alice@127.0.0.1:15301>"),
    ]
    if body:
        headers.append(("Content-Type", "application/sdp"))
    return Request(method, f"sip:service@{address.hostport}", headers, body)


def test_sdp_answer_picks_the_first_g711_codec():
    answer = sdp_answer(OFFER, address="::1", port=15998).decode()
    assert "m=audio 15998 RTP/AVP 8\r\n" in answer and "c=IN IP6 ::1" in answer
    assert sdp_answer(OFFER.replace(b" 8 ", b" 18 "), address="127.0.0.1", port=1) is None
    assert sdp_answer(b"\xff\xfe", address="127.0.0.1", port=1) is None


async def test_register_is_challenged_then_accepted(setup):
    demo, client, address = setup
    first = await client.send_request(request("REGISTER", address), address)
    assert first.status == 401
    challenges = first.headers.get_all("WWW-Authenticate")
    assert [c.split("algorithm=")[1] for c in challenges] == ["SHA-256", "MD5"]
    retry = request("REGISTER", address)
    retry.headers.add("Expires", "60")
    digest = DigestClient(username="alice", password="secret")
    retry.headers.add(
        "Authorization", digest.authorize(challenges, method="REGISTER", uri=str(retry.uri))
    )
    second = await client.send_request(retry, address)
    assert second.status == 200 and second.headers.get("Expires") == "60"
    assert demo.bindings == {"alice": ["<sip:alice@127.0.0.1:15301>"]}


async def test_a_call_retransmits_its_2xx_until_the_ack_and_ends_with_bye(setup):
    demo, client, address = setup
    strays: list[Response] = []
    client.on_stray_response = strays.append
    provisional: list[Response] = []
    invite = request("INVITE", address, body=OFFER)
    answer = await client.send_request(invite, address, on_provisional=provisional.append)
    assert [r.status for r in provisional] == [180]
    assert answer.status == 200 and b"RTP/AVP 8" in answer.body
    async with asyncio.timeout(5):  # no ACK yet: the UAS resends the 2xx at T1, 2·T1, ...
        while len(strays) < 2:
            await asyncio.sleep(0.01)
    assert all(r.status == 200 and r.call_id == invite.call_id for r in strays)
    to_tag = answer.to_addr.tag
    ack = request("ACK", address, call_id=invite.call_id, tag=invite.from_addr.tag, to_tag=to_tag)
    ack.headers.set("CSeq", "1 ACK")
    await client.send_stateless(ack, address)
    await asyncio.sleep(0.2)
    resent = len(strays)
    await asyncio.sleep(0.2)
    assert len(strays) == resent, "the ACK stopped the retransmissions"
    bye = request("BYE", address, call_id=invite.call_id, tag=invite.from_addr.tag, to_tag=to_tag)
    assert (await client.send_request(bye, address)).status == 200
    assert demo.events == ["INVITE", "ACK", "BYE"]


async def test_an_offer_without_g711_is_refused_with_488(setup):
    _, client, address = setup
    body = OFFER.replace(b" 8 ", b" 18 ")
    response = await client.send_request(request("INVITE", address, body=body), address)
    assert response.status == 488


async def test_cancel_while_ringing_ends_the_invite_with_487(setup):
    demo, client, address = setup
    demo.ring_seconds = 1.0
    ringing = asyncio.Event()
    invite = request("INVITE", address, body=OFFER)
    call = asyncio.ensure_future(
        client.send_request(invite, address, on_provisional=lambda _: ringing.set())
    )
    await asyncio.wait_for(ringing.wait(), 5)
    assert (await client.send_request(build_cancel(invite), address)).status == 200
    assert (await asyncio.wait_for(call, 5)).status == 487
    assert demo.calls == {}
