"""Bad input at the endpoint: garbage, malformed-but-answerable requests, oversize messages."""

import asyncio
import gc
import socket
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipcore.endpoint import Endpoint, EndpointConfig
from sipcore.message import parse_message
from sipcore.tests.test_transport_udp import fake_datagram_transport
from sipcore.transport import TransportConfig, UdpSocket

GOOD = (
    b"OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKgood%d;rport\r\n"
    b"From: <sip:alice@127.0.0.1>;tag=a1\r\n"
    b"To: <sip:bob@127.0.0.1>\r\n"
    b"Call-ID: errors-%d\r\n"
    b"CSeq: 1 OPTIONS\r\n"
    b"Content-Length: 0\r\n\r\n"
)

# A request line, Via and CSeq survive, but Max-Forwards is broken: answerable with 400.
BAD_MAX_FORWARDS = (
    b"OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKbad;rport\r\n"
    b"Max-Forwards: seventy\r\n"
    b"From: <sip:alice@127.0.0.1>;tag=a1\r\n"
    b"To: <sip:bob@127.0.0.1>\r\n"
    b"Call-ID: errors-bad\r\n"
    b"CSeq: 1 OPTIONS\r\n"
    b"Content-Length: 0\r\n\r\n"
)


@pytest.fixture
async def server():
    endpoint = Endpoint(EndpointConfig(transport=TransportConfig(max_datagram_size=2000)))
    endpoint.on_request = lambda request, handle: handle.reply(200)
    yield endpoint
    await endpoint.close()


@pytest.fixture
def udp_client():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    yield sock
    sock.close()


async def receive(sock: socket.socket, timeout: float = 5.0) -> bytes:
    loop = asyncio.get_running_loop()
    return await asyncio.wait_for(loop.sock_recv(sock, 65535), timeout)


async def test_garbage_gets_nothing_and_the_endpoint_keeps_serving(server, udp_client):
    address = await server.listen("udp", "127.0.0.1", 0)
    for garbage in (b"", b"\x00" * 100, b"\xff\xfe garbage\r\n\r\n", b"SIP/2.0 200\r\n\r\n"):
        udp_client.sendto(garbage, address.address())
    udp_client.sendto(GOOD % (1, 1), address.address())
    reply = parse_message(await receive(udp_client))
    assert reply.status == 200 and reply.call_id == "errors-1"
    assert server.transports.stats.parse_errors >= 3
    assert server.stats.parse_errors_dropped >= 3


async def test_an_answerable_malformed_request_gets_a_400_with_the_reason(server, udp_client):
    address = await server.listen("udp", "127.0.0.1", 0)
    udp_client.sendto(BAD_MAX_FORWARDS, address.address())
    reply = parse_message(await receive(udp_client))
    assert reply.status == 400
    assert "Max-Forwards" in reply.reason
    assert reply.call_id == "errors-bad"
    assert server.stats.bad_requests_answered == 1
    udp_client.sendto(GOOD % (2, 2), address.address())
    assert parse_message(await receive(udp_client)).status == 200


async def test_an_oversize_datagram_is_dropped_and_counted(server, udp_client):
    address = await server.listen("udp", "127.0.0.1", 0)
    padded = GOOD.replace(b"Content-Length: 0", b"X-Pad: " + b"p" * 3000 + b"\r\nContent-Length: 0")
    udp_client.sendto(padded % (3, 3), address.address())
    udp_client.sendto(GOOD % (4, 4), address.address())
    assert parse_message(await receive(udp_client)).call_id == "errors-4"
    assert server.transports.stats.oversize_datagrams == 1


async def test_an_oversize_tcp_message_closes_the_connection():
    endpoint = Endpoint(EndpointConfig(transport=TransportConfig(max_message_size=1000)))
    try:
        address = await endpoint.listen("tcp", "127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(*address.address())
        writer.write(b"OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\nX-Pad: " + b"p" * 2000)
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # EOF: the server closed
        writer.close()
        assert endpoint.transports.stats.stream_errors == 1
    finally:
        await endpoint.close()


async def test_a_malformed_request_on_tcp_is_answered_on_its_connection(server):
    address = await server.listen("tcp", "127.0.0.1", 0)
    reader, writer = await asyncio.open_connection(*address.address())
    writer.write(BAD_MAX_FORWARDS.replace(b"UDP", b"TCP") + GOOD.replace(b"UDP", b"TCP") % (5, 5))
    first = parse_message(await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5))
    second = parse_message(await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5))
    assert (first.status, second.status) == (400, 200)
    writer.close()
    await writer.wait_closed()


def mutated(message: bytes) -> st.SearchStrategy[bytes]:
    """message with one slice replaced by arbitrary bytes."""
    return st.tuples(st.integers(0, len(message)), st.integers(0, 40), st.binary(max_size=40)).map(
        lambda cut: message[: cut[0]] + cut[2] + message[cut[0] + cut[1] :]
    )


def test_no_datagram_makes_an_exception_escape_the_endpoint():
    async def start():
        endpoint = Endpoint()
        endpoint.on_request = lambda request, handle: handle and handle.reply(200)
        udp = UdpSocket(endpoint, endpoint.config.transport, endpoint.transports.stats)
        udp.connection_made(fake_datagram_transport())
        return endpoint, udp

    good = GOOD % (7, 7)
    with asyncio.Runner() as runner:
        endpoint, udp = runner.run(start())

        @settings(max_examples=400, deadline=None, database=None)
        @given(st.one_of(st.binary(max_size=1500), mutated(good), mutated(BAD_MAX_FORWARDS)))
        def feed(datagram: bytes) -> None:
            udp.datagram_received(datagram, ("127.0.0.1", 40000))

        feed()
        runner.run(endpoint.close())
    assert endpoint.transports.stats.internal_errors == 0
    assert endpoint.stats.handler_errors == 0


async def test_a_handler_cancelled_before_it_starts_leaves_no_coroutine_unawaited(udp_client):
    """The endpoint closing cancels handler tasks that may not have taken a step yet."""
    endpoint = Endpoint(EndpointConfig())
    started = []

    async def handler(request, handle):
        started.append(request)

    endpoint.on_request = handler
    local = await endpoint.listen("udp", "127.0.0.1", 0)
    spawned = asyncio.Event()
    spawn = endpoint._spawn

    def spawn_and_cancel_at_once(coroutine):
        task = spawn(coroutine)
        task.cancel()
        spawned.set()
        return task

    endpoint._spawn = spawn_and_cancel_at_once
    udp_client.sendto(GOOD % (90, 90), ("127.0.0.1", local.port))
    await asyncio.wait_for(spawned.wait(), 5)
    await endpoint.close()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    assert started == []
    assert not [w for w in caught if "never awaited" in str(w.message)]
