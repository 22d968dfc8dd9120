"""The endpoint on uvloop, the loop the benchmark and production use.

uvloop differs from asyncio in details the endpoint touches: call_at with a past deadline
returns a plain Handle (no when()), and its transports are not asyncio's classes.
"""

import asyncio

import pytest

from sipcore.endpoint import Endpoint, EndpointConfig
from sipcore.message import Request, new_call_id, new_tag
from sipcore.transaction import TimerConfig

uvloop = pytest.importorskip("uvloop")


async def round_trips(kind: str) -> list[int]:
    timers = TimerConfig(t1=0.02, t2=0.08, t4=0.001)  # Timer K due almost as soon as armed
    server = Endpoint(EndpointConfig(timers=timers))
    client = Endpoint(EndpointConfig(timers=timers))
    server.on_request = lambda request, handle: handle.reply(200)
    try:
        address = await server.listen(kind, "127.0.0.1", 0)
        statuses = []
        for seq in range(20):
            request = Request(
                "OPTIONS",
                f"sip:bob@{address.hostport}",
                [
                    ("From", f"<sip:alice@example.com>;tag={new_tag()}"),
                    ("To", "<sip:bob@example.com>"),
                    ("Call-ID", new_call_id()),
                    ("CSeq", f"{seq + 1} OPTIONS"),
                ],
            )
            statuses.append((await client.send_request(request, address)).status)
        await asyncio.sleep(0.05)  # Timer J/K fire, some already due when armed
        return statuses
    finally:
        await client.close()
        await server.close()


@pytest.mark.parametrize("kind", ["udp", "tcp"])
def test_round_trips_on_uvloop(kind):
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(round_trips(kind)) == [200] * 20
