"""Where the endpoint sends responses (RFC 3261 §18.2.2, RFC 3581), seen from raw sockets."""

import asyncio
import socket

import pytest

from sipcore.endpoint import Endpoint
from sipcore.message import Response, parse_message


def request(transport: str, sent_by: str, branch: str, via_params: str = "") -> bytes:
    return (
        f"OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/{transport} {sent_by};branch=z9hG4bK{branch}{via_params}\r\n"
        f"From: <sip:alice@127.0.0.1>;tag=a1\r\n"
        f"To: <sip:bob@127.0.0.1>\r\n"
        f"Call-ID: routing-{branch}\r\n"
        f"CSeq: 1 OPTIONS\r\n"
        f"Content-Length: 0\r\n\r\n"
    ).encode()


def udp_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    return sock


async def receive(sock: socket.socket) -> Response:
    loop = asyncio.get_running_loop()
    message = parse_message(await asyncio.wait_for(loop.sock_recv(sock, 65535), 5))
    assert isinstance(message, Response)
    return message


@pytest.fixture
async def server():
    endpoint = Endpoint()
    endpoint.on_request = lambda request, handle: handle.reply(200)
    yield endpoint
    await endpoint.close()


async def test_udp_with_rport_answers_the_source_port(server):
    address = await server.listen("udp", "127.0.0.1", 0)
    with udp_socket() as sender, udp_socket() as sent_by:
        claimed = f"127.0.0.1:{sent_by.getsockname()[1]}"
        sender.sendto(request("UDP", claimed, "rport1", ";rport"), address.address())
        response = await receive(sender)
        assert response.top_via.rport == sender.getsockname()[1]


async def test_udp_without_rport_answers_the_sent_by_port(server):
    address = await server.listen("udp", "127.0.0.1", 0)
    with udp_socket() as sender, udp_socket() as sent_by:
        claimed = f"127.0.0.1:{sent_by.getsockname()[1]}"
        sender.sendto(request("UDP", claimed, "norport"), address.address())
        response = await receive(sent_by)
    assert response.call_id == "routing-norport"


async def test_maddr_wins_with_the_sent_by_port(server):
    address = await server.listen("udp", "127.0.0.1", 0)
    with udp_socket() as sender, udp_socket() as sent_by:
        port = sent_by.getsockname()[1]
        claimed = f"192.0.2.1:{port}"  # not us: only maddr can bring the answer back
        sender.sendto(request("UDP", claimed, "maddr", ";maddr=127.0.0.1;rport"), address.address())
        response = await receive(sent_by)
    assert response.top_via.maddr == "127.0.0.1"


async def test_tcp_answers_on_the_same_connection(server):
    address = await server.listen("tcp", "127.0.0.1", 0)
    reader, writer = await asyncio.open_connection(*address.address())
    writer.write(request("TCP", "127.0.0.1:9", "sameconn", ";rport"))
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert parse_message(head).call_id == "routing-sameconn"
    writer.close()
    await writer.wait_closed()


async def test_tcp_reconnects_to_received_and_sent_by_port_when_the_connection_is_gone():
    respond_now = asyncio.Event()
    server = Endpoint()

    async def on_request(request, handle):
        await respond_now.wait()
        handle.reply(200)

    server.on_request = on_request
    client = Endpoint()  # listens where the request's Via says; gets the answer as a stray
    strays: asyncio.Queue[Response] = asyncio.Queue()
    client.on_stray_response = strays.put_nowait
    try:
        address = await server.listen("tcp", "127.0.0.1", 0)
        client_address = await client.listen("tcp", "127.0.0.1", 0)
        _, writer = await asyncio.open_connection(*address.address())
        writer.write(request("TCP", client_address.hostport, "reconnect", ";rport"))
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        async with asyncio.timeout(5):  # the server has read the request and seen the close
            while server.transports.pool.connections or not server._tasks:
                await asyncio.sleep(0.01)
        respond_now.set()
        response = await asyncio.wait_for(strays.get(), 5)
        assert response.call_id == "routing-reconnect" and response.status == 200
        [connection] = client.transports.pool.connections  # the server opened it
        assert connection.local.port == client_address.port
    finally:
        await server.close()
        await client.close()
