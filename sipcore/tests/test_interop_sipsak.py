"""sipsak (a real, independent SIP tool) against the sipcore demo UAS on 127.0.0.1."""

import asyncio
import shutil

import pytest

from sipcore.endpoint import Endpoint
from sipcore.uas_demo import DemoUas

pytestmark = [
    pytest.mark.real,
    pytest.mark.skipif(shutil.which("sipsak") is None, reason="sipsak is not installed"),
]


@pytest.fixture
async def uas():
    endpoint = Endpoint()
    # sipsak 0.9 knows only MD5 and answers the first challenge it sees, so offer MD5 alone.
    demo = DemoUas(endpoint, users={"alice": "wonderland"}, algorithms=("MD5",))
    endpoint.on_request = demo.handle
    yield endpoint, demo
    await demo.close()
    await endpoint.close()


async def sipsak(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        "sipsak",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), 20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return process.returncode, output.decode(errors="replace")


@pytest.mark.parametrize("kind", ["udp", "tcp"])
async def test_sipsak_options(uas, kind):
    endpoint, _ = uas
    address = await endpoint.listen(kind, "127.0.0.1", 0)
    code, output = await sipsak("-vv", "-E", kind, "-s", f"sip:alice@{address.hostport}")
    assert code == 0, output
    assert "200 OK" in output


# -u names the auth user: without it sipsak 0.9 sends username="alice@" in usrloc mode.
async def test_sipsak_digest_register(uas):
    endpoint, demo = uas
    address = await endpoint.listen("udp", "127.0.0.1", 0)
    uri = f"sip:alice@{address.hostport}"
    code, output = await sipsak("-U", "-i", "-vv", "-s", uri, "-u", "alice", "-a", "wonderland")
    assert code == 0, output
    assert demo.events[:2] == ["REGISTER 401", "REGISTER 200"]
    assert demo.bindings["alice"], "the binding was stored"


async def test_sipsak_register_with_a_wrong_password_is_refused(uas):
    endpoint, demo = uas
    address = await endpoint.listen("udp", "127.0.0.1", 0)
    uri = f"sip:alice@{address.hostport}"
    code, output = await sipsak("-U", "-i", "-vv", "-s", uri, "-u", "alice", "-a", "wrong")
    assert code != 0, output
    assert "REGISTER 200" not in demo.events
    assert "alice" not in demo.bindings
