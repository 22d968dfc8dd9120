"""A real phone (baresip 1.0, driven over its JSON ctrl_tcp) calls the sipcore demo UAS.

The call goes INVITE → 180 → 200 (SDP answer) → ACK → BYE → 200, once over UDP and once over
TCP. Ports come from this suite's range: baresip SIP 15100 (it binds 15101 for TLS too), control
15102, RTP 15200-15219.
"""

import shutil

import pytest

from sipcore.endpoint import Endpoint
from sipcore.testing import eventually
from sipcore.tests.phones import Baresip
from sipcore.uas_demo import DemoUas

pytestmark = [
    pytest.mark.real,
    pytest.mark.skipif(shutil.which("baresip") is None, reason="baresip is not installed"),
]

SIP_PORT, CTRL_PORT, RTP_PORTS = 15100, 15102, "15200-15219"


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
    phone = Baresip(tmp_path, SIP_PORT, CTRL_PORT, RTP_PORTS)
    phone.configure(f"<sip:alice@127.0.0.1:{SIP_PORT}>;regint=0;answermode=auto")
    await phone.start(sip_trace=tmp_path / "baresip.log")  # for reading after a failing run
    yield phone
    await phone.stop()


@pytest.mark.parametrize("kind", ["udp", "tcp"])
async def test_baresip_call_completes(uas, baresip, kind):
    endpoint, demo = uas
    address = await endpoint.listen(kind, "127.0.0.1", 0)
    suffix = ";transport=tcp" if kind == "tcp" else ""
    await baresip.command("dial", f"sip:service@{address.hostport}{suffix}")
    await baresip.wait_event("CALL_RINGING")
    await baresip.wait_event("CALL_ESTABLISHED")
    await eventually(lambda: "ACK" in demo.events, timeout=2)
    await baresip.command("hangup")
    await baresip.wait_event("CALL_CLOSED")
    await eventually(lambda: "BYE" in demo.events, timeout=2)
    assert demo.events == ["INVITE", "ACK", "BYE"]
    assert demo.calls == {}
    if kind == "tcp":
        [connection] = endpoint.transports.pool.connections
        assert connection.remote.transport == "tcp"
