"""The UDP socket adapter: fed through a fake transport, then over real loopback sockets."""

import asyncio
import socket
from unittest import mock

import pytest

from sipcore.message import ParseError, Request
from sipcore.transport import Peer, TransportConfig, TransportManager, TransportStats, UdpSocket

OPTIONS = (
    b"OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKudp1;rport\r\n"
    b"From: <sip:alice@127.0.0.1>;tag=a1\r\n"
    b"To: <sip:bob@127.0.0.1>\r\n"
    b"Call-ID: udp-test-1\r\n"
    b"CSeq: 1 OPTIONS\r\n"
    b"Max-Forwards: 70\r\n"
    b"Content-Length: 0\r\n\r\n"
)


class RecordingSink:
    def __init__(self, *, fail: bool = False) -> None:
        self.messages: list[tuple[object, Peer, object]] = []
        self.errors: list[ParseError] = []
        self.fail = fail
        self.arrived = asyncio.Event()

    def message_received(self, message, source, channel):
        self.messages.append((message, source, channel))
        self.arrived.set()
        if self.fail:
            raise RuntimeError("application bug")

    def parse_error(self, error, source, channel):
        self.errors.append(error)
        self.arrived.set()


def fake_datagram_transport() -> mock.Mock:
    """A datagram transport bound to 127.0.0.1:15010 that sends nowhere."""
    transport = mock.Mock(spec=asyncio.DatagramTransport)
    sock = mock.Mock(spec=socket.socket)
    sock.getsockopt.return_value = 2 * TransportConfig().udp_receive_buffer  # as Linux reports
    extra = {"sockname": ("127.0.0.1", 15010), "socket": sock}
    transport.get_extra_info.side_effect = lambda name, default=None: extra.get(name, default)
    transport.is_closing.return_value = False
    return transport


def fake_udp(sink, **limits) -> tuple[UdpSocket, mock.Mock]:
    stats = TransportStats()
    udp = UdpSocket(sink, TransportConfig(**limits), stats)
    transport = fake_datagram_transport()
    udp.connection_made(transport)
    return udp, transport


async def test_a_datagram_is_parsed_stamped_and_handed_on_with_its_socket():
    sink = RecordingSink()
    udp, _ = fake_udp(sink)
    udp.datagram_received(OPTIONS, ("127.0.0.1", 40000))
    [(message, source, channel)] = sink.messages
    assert isinstance(message, Request)
    assert source == Peer("udp", "127.0.0.1", 40000)
    assert channel is udp
    assert message.top_via.rport == 40000
    assert udp.local == Peer("udp", "127.0.0.1", 15010)


async def test_an_oversize_datagram_is_dropped_and_counted():
    sink = RecordingSink()
    udp, _ = fake_udp(sink, max_datagram_size=len(OPTIONS) - 1)
    udp.datagram_received(OPTIONS, ("127.0.0.1", 40000))
    assert sink.messages == [] and sink.errors == []
    assert udp._stats.oversize_datagrams == 1


async def test_garbage_is_reported_as_a_parse_error():
    sink = RecordingSink()
    udp, _ = fake_udp(sink)
    udp.datagram_received(b"\x00\xff garbage \r\n\r\n", ("127.0.0.1", 40000))
    assert sink.messages == [] and len(sink.errors) == 1
    assert udp._stats.parse_errors == 1


async def test_no_exception_escapes_the_datagram_callback():
    sink = RecordingSink(fail=True)
    udp, _ = fake_udp(sink)
    udp.datagram_received(OPTIONS, ("127.0.0.1", 40000))
    assert udp._stats.internal_errors == 1


async def test_send_after_close_raises_connection_error():
    udp, transport = fake_udp(RecordingSink())
    udp.send(b"x", Peer("udp", "127.0.0.1", 9))
    transport.sendto.assert_called_once_with(b"x", ("127.0.0.1", 9))
    udp.connection_lost(None)
    assert not udp.is_open
    with pytest.raises(ConnectionError):
        udp.send(b"x", Peer("udp", "127.0.0.1", 9))
    await udp.close()  # already closed: returns at once


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
async def test_real_sockets_exchange_datagrams(host):
    receiver_sink, sender_sink = RecordingSink(), RecordingSink()
    config, stats = TransportConfig(), TransportStats()
    receiver = await UdpSocket.bind(host, 0, sink=receiver_sink, config=config, stats=stats)
    sender = await UdpSocket.bind(host, 0, sink=sender_sink, config=config, stats=stats)
    try:
        assert receiver.local.port != 0
        sender.send(OPTIONS, receiver.local)
        await asyncio.wait_for(receiver_sink.arrived.wait(), 5)
        [(message, source, _)] = receiver_sink.messages
        assert source == sender.local
        assert message.top_via.received == host  # sent-by said 127.0.0.1:5070, rport asked
    finally:
        await sender.close()
        await receiver.close()
    assert not receiver.is_open


async def test_the_kernel_queues_a_burst_of_datagrams_for_the_socket():
    """A deep receive buffer (up to ``net.core.rmem_max``): a loop held up for a moment
    must not make the kernel drop a registration storm's requests."""
    asked = 2 * 1024 * 1024
    config, stats = TransportConfig(udp_receive_buffer=asked), TransportStats()
    udp = await UdpSocket.bind("127.0.0.1", 0, sink=RecordingSink(), config=config, stats=stats)
    try:
        sock = udp._transport.get_extra_info("socket")
        granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    finally:
        await udp.close()
    with open("/proc/sys/net/core/rmem_max") as limit:
        ceiling = int(limit.read())
    assert granted == 2 * min(asked, ceiling)  # Linux doubles it for its bookkeeping


async def test_a_receive_buffer_capped_by_the_kernel_is_reported(caplog):
    with open("/proc/sys/net/core/rmem_max") as limit:
        ceiling = int(limit.read())
    config, stats = TransportConfig(udp_receive_buffer=ceiling + 4096), TransportStats()
    udp = await UdpSocket.bind("127.0.0.1", 0, sink=RecordingSink(), config=config, stats=stats)
    await udp.close()
    assert "raise net.core.rmem_max" in caplog.text


async def test_the_manager_picks_a_socket_that_can_reach_the_peer():
    manager = TransportManager(RecordingSink())
    try:
        local = await manager.listen("udp", "127.0.0.1", 0)
        [udp] = [s for s in manager._udp if s.local == local]
        assert manager.udp_for(Peer("udp", "127.0.0.1", 5060)) is udp
        assert manager.udp_for(Peer("udp", "192.0.2.1", 5060)) is None  # loopback cannot reach
        assert manager.udp_for(Peer("udp", "::1", 5060)) is None  # other address family
        channel, sent_by = await manager.route(Peer("udp", "::1", 5060))
        assert channel is not udp and sent_by.host == "::1" and sent_by.port != 0
        assert manager.listeners[0] == local
    finally:
        await manager.close()
