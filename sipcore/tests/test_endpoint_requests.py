"""Endpoint request/response flows over real loopback sockets (UDP, TCP; IPv4, IPv6)."""

import asyncio
import socket

import pytest

from sipcore.endpoint import Endpoint, EndpointConfig
from sipcore.message import Request, Response, new_call_id, new_tag
from sipcore.transaction import TimerConfig, build_cancel
from sipcore.transport import Peer

FAST_TIMERS = TimerConfig(t1=0.05, t2=0.2, t4=0.25)  # Timer F = 3.2 s: slow CI is not a loss
TIMEOUT_TIMERS = TimerConfig(t1=0.005, t2=0.02, t4=0.025)  # Timer F = 0.32 s, for timeout tests


def make_request(method: str, target: Peer, **extra: str) -> Request:
    headers = [
        ("From", f"<sip:alice@example.com>;tag={new_tag()}"),
        ("To", "<sip:bob@example.com>"),
        ("Call-ID", new_call_id()),
        ("CSeq", f"1 {method}"),
        ("Contact", "<sip:alice@127.0.0.1>"),
    ]
    headers += list(extra.items())
    return Request(method, f"sip:bob@{target.hostport}", headers)


@pytest.fixture
async def server():
    endpoint = Endpoint(EndpointConfig(timers=FAST_TIMERS))
    yield endpoint
    await endpoint.close()


@pytest.fixture
async def client():
    endpoint = Endpoint(EndpointConfig(timers=FAST_TIMERS))
    yield endpoint
    await endpoint.close()


@pytest.mark.parametrize(
    ("kind", "host"), [("udp", "127.0.0.1"), ("tcp", "127.0.0.1"), ("udp", "::1"), ("tcp", "::1")]
)
async def test_options_round_trip(server, client, kind, host):
    seen = []

    async def on_request(request, handle):
        seen.append((request, handle))
        handle.reply(200, headers=[("Allow", "OPTIONS")])

    server.on_request = on_request
    address = await server.listen(kind, host, 0)
    assert address.port != 0 and address.transport == kind
    response = await client.send_request(make_request("OPTIONS", address), address)
    assert response.status == 200 and response.headers.get("Allow") == "OPTIONS"
    [(request, handle)] = seen
    via = request.top_via
    assert via.transport == kind.upper() and via.branch.startswith("z9hG4bK")
    assert via.rport == handle.source.port  # our client asked for rport, the server filled it
    assert request.max_forwards == 70


async def test_provisional_responses_reach_the_callback(server, client):
    async def on_request(request, handle):
        handle.reply(180, to_tag="t1")
        await asyncio.sleep(0.02)
        handle.reply(200, to_tag="t1")

    server.on_request = on_request
    address = await server.listen("udp", "127.0.0.1", 0)
    provisional: list[Response] = []
    response = await client.send_request(
        make_request("INVITE", address), address, on_provisional=provisional.append
    )
    assert [r.status for r in provisional] == [180]
    assert response.status == 200


async def test_ack_for_a_2xx_is_delivered_without_a_handle(server, client):
    acks = asyncio.Queue()

    def on_request(request, handle):  # a plain function works as well as a coroutine
        if request.method == "ACK":
            acks.put_nowait((request, handle))
        else:
            handle.reply(200, to_tag="t2")

    server.on_request = on_request
    address = await server.listen("udp", "127.0.0.1", 0)
    invite = make_request("INVITE", address)
    response = await client.send_request(invite, address)
    ack = Request(
        "ACK",
        invite.uri,
        [
            ("From", invite.headers.get("From")),
            ("To", response.headers.get("To")),
            ("Call-ID", invite.call_id),
            ("CSeq", f"{invite.cseq.seq} ACK"),
        ],
    )
    await client.send_stateless(ack, address)
    request, handle = await asyncio.wait_for(acks.get(), 5)
    assert request.method == "ACK" and handle is None
    assert request.top_via.branch != invite.top_via.branch


async def test_a_silent_peer_gives_a_synthesised_408():
    client = Endpoint(EndpointConfig(timers=TIMEOUT_TIMERS))
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
            silent.bind(("127.0.0.1", 0))
            peer = Peer("udp", "127.0.0.1", silent.getsockname()[1])
            response = await client.send_request(make_request("OPTIONS", peer), peer)
    finally:
        await client.close()
    assert response.status == 408


async def test_a_refused_tcp_connect_gives_a_synthesised_503(client):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    peer = Peer("tcp", "127.0.0.1", port)
    response = await client.send_request(make_request("OPTIONS", peer), peer)
    assert response.status == 503 and "ConnectionRefusedError" in response.reason
    assert client.transports.stats.send_errors == 1


async def test_a_failing_handler_yields_500_and_the_endpoint_keeps_serving(server, client):
    calls = []

    async def on_request(request, handle):
        calls.append(request)
        if len(calls) == 1:
            raise RuntimeError("application bug")
        handle.reply(200)

    server.on_request = on_request
    address = await server.listen("udp", "127.0.0.1", 0)
    first = await client.send_request(make_request("OPTIONS", address), address)
    second = await client.send_request(make_request("OPTIONS", address), address)
    assert (first.status, second.status) == (500, 200)
    assert server.stats.handler_errors == 1


async def test_no_handler_means_501(server, client):
    address = await server.listen("tcp", "127.0.0.1", 0)
    response = await client.send_request(make_request("OPTIONS", address), address)
    assert response.status == 501


async def test_cancel_finds_the_invite(server, client):
    ringing = asyncio.Event()
    invite_handles = []

    async def on_request(request, handle):
        if request.method == "INVITE":
            invite_handles.append(handle)
            handle.reply(180, to_tag="t3")
            ringing.set()
        elif request.method == "CANCEL":
            target = server.invite_for_cancel(request)
            handle.reply(200 if target is not None else 481)
            if target is not None:
                target.reply(487, to_tag="t3")

    server.on_request = on_request
    address = await server.listen("udp", "127.0.0.1", 0)
    invite = make_request("INVITE", address)
    call = asyncio.ensure_future(client.send_request(invite, address))
    await asyncio.wait_for(ringing.wait(), 5)
    assert (await client.send_request(build_cancel(invite), address)).status == 200
    assert (await asyncio.wait_for(call, 5)).status == 487


async def test_close_cancels_timers_tasks_and_pending_requests(server, client):
    never, entered = asyncio.Event(), asyncio.Event()

    async def on_request(request, handle):
        entered.set()
        await never.wait()

    server.on_request = on_request
    address = await server.listen("udp", "127.0.0.1", 0)
    pending = asyncio.ensure_future(client.send_request(make_request("OPTIONS", address), address))
    await asyncio.wait_for(entered.wait(), 5)
    assert server._tasks and client._timer is not None  # Timer E/F run on the client
    await server.close()
    await client.close()
    assert not server._tasks and server._timer is None and client._timer is None
    with pytest.raises(ConnectionAbortedError):
        await pending


async def test_too_many_running_handlers_get_503(client):
    server = Endpoint(EndpointConfig(timers=FAST_TIMERS, max_pending_handlers=1))
    release, entered = asyncio.Event(), asyncio.Event()

    async def on_request(request, handle):
        entered.set()
        await release.wait()
        handle.reply(200)

    server.on_request = on_request
    try:
        address = await server.listen("udp", "127.0.0.1", 0)
        first = asyncio.ensure_future(
            client.send_request(make_request("OPTIONS", address), address)
        )
        await asyncio.wait_for(entered.wait(), 5)
        second = await client.send_request(make_request("OPTIONS", address), address)
        assert second.status == 503 and second.headers.get("Retry-After") == "1"
        release.set()
        assert (await first).status == 200
        assert server.stats.overload_rejections == 1
    finally:
        await server.close()


async def test_tcp_connections_are_reused_in_both_directions(server, client):
    sources = []

    async def on_server_request(request, handle):
        sources.append(handle.source)
        handle.reply(200)

    async def on_client_request(request, handle):
        handle.reply(202)

    server.on_request = on_server_request
    client.on_request = on_client_request
    address = await server.listen("tcp", "127.0.0.1", 0)
    for _ in range(3):
        assert (await client.send_request(make_request("OPTIONS", address), address)).status == 200
    assert len(client.transports.pool.connections) == 1
    assert len(set(sources)) == 1
    # the server reaches the client back over the connection the client opened
    back = await server.send_request(make_request("OPTIONS", sources[0]), sources[0])
    assert back.status == 202
    assert len(server.transports.pool.connections) == 1
    assert len(client.transports.pool.connections) == 1


async def test_a_lost_tcp_connection_fails_its_transactions_at_once(server, client):
    async def on_request(request, handle):
        handle.channel.close()  # the peer hangs up without answering

    server.on_request = on_request
    address = await server.listen("tcp", "127.0.0.1", 0)
    response = await asyncio.wait_for(
        client.send_request(make_request("OPTIONS", address), address), 2
    )
    assert response.status == 503
