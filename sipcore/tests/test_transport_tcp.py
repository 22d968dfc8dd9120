"""The TCP adapter: framing fed byte by byte, limits, back-pressure, reuse and idle close."""

import asyncio
import contextlib
from unittest import mock

import pytest

from sipcore.message import ParseError, Request
from sipcore.testing import eventually
from sipcore.transport import Peer, TcpListener, TcpPool, TransportConfig, TransportStats


def options(n: int, body: bytes = b"") -> bytes:
    return (
        b"OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n"
        b"Via: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bKtcp%d;rport\r\n"
        b"From: <sip:alice@127.0.0.1>;tag=a1\r\n"
        b"To: <sip:bob@127.0.0.1>\r\n"
        b"Call-ID: tcp-test-%d\r\n"
        b"CSeq: %d OPTIONS\r\n"
        b"Content-Length: %d\r\n\r\n" % (n, n, n, len(body))
    ) + body


class RecordingSink:
    def __init__(self) -> None:
        self.messages: list[tuple[object, Peer, object]] = []
        self.errors: list[ParseError] = []
        self.closed: list[object] = []
        self.arrived = asyncio.Event()

    def message_received(self, message, source, channel):
        self.messages.append((message, source, channel))
        self.arrived.set()

    def parse_error(self, error, source, channel):
        self.errors.append(error)

    def channel_closed(self, channel):
        self.closed.append(channel)


def fake_connection(sink, **limits):
    pool = TcpPool(sink, TransportConfig(**limits), TransportStats())
    connection = pool.protocol_factory()
    transport = mock.Mock(spec=asyncio.Transport)
    addresses = {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 15020)}
    transport.get_extra_info.side_effect = addresses.get
    transport.is_closing.return_value = False
    connection.connection_made(transport)
    return pool, connection, transport


async def test_messages_fed_one_byte_at_a_time_come_out_whole():
    sink = RecordingSink()
    pool, connection, transport = fake_connection(sink)
    stream = b"\r\n\r\n" + options(1, b"hello") + b"\r\n" + options(2)
    for index in range(len(stream)):
        connection.data_received(stream[index : index + 1])
    assert [m.cseq.seq for m, _, _ in sink.messages] == [1, 2]
    first, source, channel = sink.messages[0]
    assert isinstance(first, Request) and first.body == b"hello"
    assert source == Peer("tcp", "127.0.0.1", 40000) and channel is connection
    assert first.top_via.rport == 40000 and first.top_via.received == "127.0.0.1"
    assert pool.find(Peer("tcp", "127.0.0.1", 40000)) is connection
    transport.close.assert_not_called()
    connection.connection_lost(None)


async def test_several_messages_in_one_read_and_a_partial_tail():
    sink = RecordingSink()
    _, connection, _ = fake_connection(sink)
    third = options(3)
    connection.data_received(options(1) + options(2) + third[:10])
    assert len(sink.messages) == 2
    connection.data_received(third[10:])
    assert len(sink.messages) == 3
    connection.connection_lost(None)


async def test_a_message_over_the_limit_closes_the_connection():
    sink = RecordingSink()
    pool, connection, transport = fake_connection(sink, max_message_size=300)
    connection.data_received(options(1, b"x" * 400))
    transport.close.assert_called_once()
    assert sink.messages == []
    assert pool._stats.stream_errors == 1


async def test_messages_before_an_oversized_one_are_delivered_then_the_connection_closes():
    sink = RecordingSink()
    pool, connection, transport = fake_connection(sink, max_message_size=300)
    connection.data_received(options(1) + options(2, b"x" * 400))
    assert [m.cseq.seq for m, _, _ in sink.messages] == [1]
    transport.close.assert_called_once()
    assert pool._stats.stream_errors == 1


async def test_a_stream_limit_above_the_parser_default_is_honoured():
    sink = RecordingSink()
    _, connection, transport = fake_connection(sink, max_message_size=200_000)
    connection.data_received(options(1, b"v=0\r\n" * 20_000))
    assert len(sink.messages) == 1 and not sink.errors
    transport.close.assert_not_called()


async def test_a_head_without_end_over_the_limit_closes_without_buffering():
    sink = RecordingSink()
    _, connection, transport = fake_connection(sink, max_message_size=300)
    connection.data_received(b"OPTIONS sip:x SIP/2.0\r\nX-Filler: " + b"a" * 400)
    transport.close.assert_called_once()
    assert connection._framer.buffered <= 300


async def test_a_garbage_message_on_the_stream_is_reported_not_raised():
    sink = RecordingSink()
    _, connection, transport = fake_connection(sink)
    connection.data_received(b"HELLO WORLD\r\nContent-Length: 0\r\n\r\n" + options(1))
    assert len(sink.errors) == 1 and len(sink.messages) == 1
    transport.close.assert_not_called()


async def test_writers_wait_while_paused_and_resume():
    _, connection, transport = fake_connection(RecordingSink())
    connection.pause_writing()
    transport.pause_reading.assert_called_once()
    writer = asyncio.ensure_future(connection.send(b"data"))
    await asyncio.sleep(0)
    assert not writer.done()
    connection.resume_writing()
    await asyncio.wait_for(writer, 1)
    transport.resume_reading.assert_called_once()
    transport.write.assert_called_once_with(b"data")


async def test_connection_loss_wakes_a_blocked_writer_with_an_error():
    pool, connection, _ = fake_connection(RecordingSink())
    connection.pause_writing()
    writer = asyncio.ensure_future(connection.send(b"data"))
    await asyncio.sleep(0)
    connection.connection_lost(None)
    with pytest.raises(ConnectionError):
        await writer
    assert pool.connections == frozenset()
    assert pool._sink.closed == [connection]
    assert connection._idle_handle is None
    with pytest.raises(ConnectionError):
        connection.write(b"more")


class ManualClock:
    """Stands in for the loop's time() and call_at() so idle timing is exact, not slept."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.now = 1000.0
        self.timers: list[tuple[float, object]] = []
        self.create_future = loop.create_future

    def time(self) -> float:
        return self.now

    def call_at(self, when, callback):
        handle = mock.Mock()
        self.timers.append((when, callback))
        return handle

    def advance_to(self, when: float) -> None:
        self.now = when
        due = [(w, cb) for w, cb in self.timers if w <= when]
        self.timers = [(w, cb) for w, cb in self.timers if w > when]
        for _, callback in due:
            callback()


async def test_idle_timer_is_rearmed_by_traffic_and_closes_an_idle_connection():
    clock = ManualClock(asyncio.get_running_loop())
    pool = TcpPool(RecordingSink(), TransportConfig(tcp_idle_timeout=300), TransportStats())
    with mock.patch("asyncio.get_running_loop", return_value=clock):
        connection = pool.protocol_factory()
    transport = mock.Mock(spec=asyncio.Transport)
    transport.get_extra_info.side_effect = {
        "peername": ("127.0.0.1", 40000),
        "sockname": ("127.0.0.1", 15020),
    }.get
    transport.is_closing.return_value = False
    connection.connection_made(transport)
    assert [when for when, _ in clock.timers] == [1300.0]
    clock.now = 1200.0
    connection.data_received(b"\r\n\r\n")  # a keep-alive counts as traffic
    clock.advance_to(1300.0)
    transport.close.assert_not_called()
    assert [when for when, _ in clock.timers] == [1500.0]  # re-armed from the last traffic
    clock.advance_to(1500.0)
    transport.close.assert_called_once()
    assert pool._stats.connections_closed_idle == 1


@pytest.fixture
async def pair(request):
    """A listening pool and a connecting pool on 127.0.0.1 (idle timeout: the test's param)."""
    server_sink, client_sink = RecordingSink(), RecordingSink()
    config = TransportConfig(tcp_idle_timeout=getattr(request, "param", 300.0))
    server_pool = TcpPool(server_sink, config, TransportStats())
    client_pool = TcpPool(client_sink, config, TransportStats())
    listener = await TcpListener.bind("127.0.0.1", 0, server_pool)
    yield listener, server_pool, server_sink, client_pool, client_sink
    await client_pool.close()
    await listener.close()
    await server_pool.close()


async def test_outgoing_connections_are_reused_and_never_opened_twice(pair):
    listener, server_pool, _, client_pool, _ = pair
    first, second = await asyncio.gather(
        client_pool.connect(listener.local), client_pool.connect(listener.local)
    )
    assert first is second
    assert await client_pool.connect(listener.local) is first
    assert len(client_pool.connections) == 1
    await eventually(lambda: len(server_pool.connections) == 1)


async def test_an_incoming_connection_carries_requests_back_to_its_peer(pair):
    listener, server_pool, server_sink, client_pool, client_sink = pair
    outgoing = await client_pool.connect(listener.local)
    await outgoing.send(options(1))
    await asyncio.wait_for(server_sink.arrived.wait(), 5)
    _, source, incoming = server_sink.messages[0]
    reused = await server_pool.connect(source)  # the peer's address as the request showed it
    assert reused is incoming
    await reused.send(options(2))
    await asyncio.wait_for(client_sink.arrived.wait(), 5)
    assert client_sink.messages[0][2] is outgoing


async def test_connections_beyond_the_limit_are_closed_at_once(pair):
    listener, server_pool, _, _, _ = pair
    server_pool._config = TransportConfig(max_connections=1)
    other_pool = TcpPool(RecordingSink(), TransportConfig(), TransportStats())
    try:
        first = await other_pool.connect(listener.local)
        await eventually(lambda: len(server_pool.connections) == 1)
        _, writer = await asyncio.open_connection(*listener.local.address())
        await eventually(lambda: server_pool._stats.connections_refused == 1)
        assert len(server_pool.connections) == 1 and first.is_open
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
        second_listener = await TcpListener.bind("127.0.0.1", 0, other_pool)
        own_limit = TcpPool(RecordingSink(), TransportConfig(max_connections=1), TransportStats())
        await own_limit.connect(second_listener.local)  # other_pool has no limit: stays open
        with pytest.raises(ConnectionRefusedError, match="connection limit"):
            await own_limit.connect(listener.local)
        await own_limit.close()
        await second_listener.close()
    finally:
        await other_pool.close()


@pytest.mark.parametrize("pair", [0.2], indirect=True)
async def test_idle_connections_are_closed_on_both_sides(pair):
    listener, server_pool, _, client_pool, _ = pair
    connection = await client_pool.connect(listener.local)
    await asyncio.wait_for(connection.wait_closed(), 5)
    assert client_pool.connections == frozenset()
    assert client_pool._stats.connections_closed_idle == 1
    await eventually(lambda: server_pool.connections == frozenset())


async def test_connect_failure_is_raised_and_not_cached(pair):
    listener, _, _, client_pool, _ = pair
    closed = Peer("tcp", "127.0.0.1", listener.local.port)
    await listener.close()
    with pytest.raises(OSError):
        await client_pool.connect(closed)
    assert client_pool._connecting == {}


async def test_ipv6_loopback():
    sink = RecordingSink()
    pool = TcpPool(sink, TransportConfig(), TransportStats())
    listener = await TcpListener.bind("::1", 0, pool)
    try:
        connection = await pool.connect(listener.local)
        assert connection.remote == Peer("tcp", "::1", listener.local.port)
        await connection.send(options(1))
        await asyncio.wait_for(sink.arrived.wait(), 5)
        assert sink.messages[0][0].top_via.received == "::1"
    finally:
        await listener.close()
        await pool.close()
