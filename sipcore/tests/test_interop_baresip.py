"""A real phone (baresip 1.0, driven over its JSON ctrl_tcp) calls the sipcore demo UAS.

The call goes INVITE → 180 → 200 (SDP answer) → ACK → BYE → 200, once over UDP and once over
TCP. Ports come from this suite's range: baresip SIP 15100 (it binds 15101 for TLS too), control
15102, RTP 15200-15219.
"""

import asyncio
import contextlib
import json
import shutil
import signal
import wave
from pathlib import Path

import pytest

from sipcore.endpoint import Endpoint
from sipcore.uas_demo import DemoUas

pytestmark = [
    pytest.mark.real,
    pytest.mark.skipif(shutil.which("baresip") is None, reason="baresip is not installed"),
]

SIP_PORT, CTRL_PORT = 15100, 15102
MODULE_PATH = "/usr/lib/baresip/modules"


def write_config(directory: Path) -> None:
    silence = directory / "silence.wav"
    with wave.open(str(silence), "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(b"\x00\x00" * 8000)
    (directory / "config").write_text(
        f"module_path {MODULE_PATH}\n"
        f"sip_listen 127.0.0.1:{SIP_PORT}\n"
        "net_interface 127.0.0.1\n"
        "rtp_ports 15200-15219\n"
        f"audio_source aufile,{silence}\n"
        "audio_player aubridge,sipcore\n"
        "audio_alert aubridge,sipcore\n"
        "module g711.so\n"
        "module aufile.so\n"
        "module aubridge.so\n"
        "module_tmp uuid.so\n"
        "module_tmp account.so\n"
        "module_app menu.so\n"
        "module_app ctrl_tcp.so\n"
        f"ctrl_tcp_listen 127.0.0.1:{CTRL_PORT}\n"
    )
    (directory / "accounts").write_text(
        f"<sip:alice@127.0.0.1:{SIP_PORT}>;regint=0;answermode=auto\n"
    )


class BaresipControl:
    """Netstring JSON over baresip's ctrl_tcp: commands out, responses and events in."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.seen: list[dict] = []

    @classmethod
    async def connect(cls) -> "BaresipControl":
        for _ in range(100):
            with contextlib.suppress(OSError):
                return cls(*await asyncio.open_connection("127.0.0.1", CTRL_PORT))
            await asyncio.sleep(0.05)
        raise TimeoutError("baresip's ctrl_tcp never accepted a connection")

    async def command(self, name: str, params: str = "") -> None:
        payload = json.dumps({"command": name, "params": params, "token": name}).encode()
        self.writer.write(b"%d:%s," % (len(payload), payload))
        await self.writer.drain()

    async def next_message(self) -> dict:
        length = int((await self.reader.readuntil(b":"))[:-1])
        body = await self.reader.readexactly(length + 1)
        message = json.loads(body[:-1])
        self.seen.append(message)
        return message

    async def wait_event(self, kind: str, timeout: float = 10.0) -> dict:
        async with asyncio.timeout(timeout):
            while True:
                message = await self.next_message()
                if message.get("event") and message.get("type") == kind:
                    return message

    def close(self) -> None:
        self.writer.close()


@pytest.fixture
async def uas():
    endpoint = Endpoint()
    demo = DemoUas(endpoint)
    endpoint.on_request = demo.handle
    yield endpoint, demo
    await demo.close()
    await endpoint.close()


@pytest.fixture
async def baresip(tmp_path):
    write_config(tmp_path)
    with (tmp_path / "baresip.log").open("wb") as log:  # its SIP trace, for a failing run
        process = await asyncio.create_subprocess_exec(
            "baresip",
            "-f",
            str(tmp_path),
            "-s",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            control = await BaresipControl.connect()
            yield control
            with contextlib.suppress(OSError):
                await control.command("quit")
            control.close()
        finally:
            await stop(process)


async def stop(process: asyncio.subprocess.Process) -> None:
    """After quit: TERM, then KILL 3 s later (PEERS.md).

    A graceful quit right after a call waits for baresip's last transactions (Timer K), so
    it gets 1 s before TERM.
    """
    for sig, grace in ((None, 1.0), (signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
        if sig is not None and process.returncode is None:
            process.send_signal(sig)
        try:
            await asyncio.wait_for(process.wait(), grace)
            return
        except TimeoutError:
            continue


@pytest.mark.parametrize("kind", ["udp", "tcp"])
async def test_baresip_call_completes(uas, baresip, kind):
    endpoint, demo = uas
    address = await endpoint.listen(kind, "127.0.0.1", 0)
    suffix = ";transport=tcp" if kind == "tcp" else ""
    await baresip.command("dial", f"sip:service@{address.hostport}{suffix}")
    await baresip.wait_event("CALL_RINGING")
    await baresip.wait_event("CALL_ESTABLISHED")
    for _ in range(100):
        if "ACK" in demo.events:
            break
        await asyncio.sleep(0.02)
    await baresip.command("hangup")
    await baresip.wait_event("CALL_CLOSED")
    for _ in range(100):
        if "BYE" in demo.events:
            break
        await asyncio.sleep(0.02)
    assert demo.events == ["INVITE", "ACK", "BYE"]
    assert demo.calls == {}
    if kind == "tcp":
        [connection] = endpoint.transports.pool.connections
        assert connection.remote.transport == "tcp"
