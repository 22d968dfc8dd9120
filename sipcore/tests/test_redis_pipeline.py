"""``PipelinedRedis``: concurrent callers share one connection and one write per loop pass,
each gets its own reply, and a broken or silent Redis fails the waiting callers cleanly."""

from __future__ import annotations

import asyncio

import pytest
import redis
import uvloop
from redis.exceptions import ResponseError

from sipcore.redis_pipeline import PipelinedRedis, Script, _parse
from sipcore.testing.redis import flushed_redis, redis_url_for

pytestmark = pytest.mark.real


@pytest.fixture
def url():
    with flushed_redis(redis_url_for(12)) as url:
        yield url


@pytest.fixture
async def client(url):
    client = PipelinedRedis(url, timeout=2.0)
    yield client
    await client.aclose()


async def test_concurrent_commands_share_one_write_and_get_their_own_replies(client, url):
    await client.execute("PING")
    connection = client._connection
    writes: list[bytes] = []
    write = connection._transport.write

    def counted(data: bytes) -> None:
        writes.append(data)
        write(data)

    connection._transport.write = counted
    replies = await asyncio.gather(
        *(client.execute("SET", f"key{index}", f"value{index}") for index in range(50)),
        *(client.execute("GET", f"key{index}") for index in range(50)),
        client.execute("INCR", "counter"),
        client.execute("GET", "missing"),
    )

    assert len(writes) == 1
    assert replies[:50] == [b"OK"] * 50
    assert replies[50:100] == [f"value{index}".encode() for index in range(50)]
    assert replies[100:] == [1, None]
    # The database of the URL was selected: the keys are there, not in database 0.
    assert redis.Redis.from_url(url).get("key7") == b"value7"


def test_it_runs_on_uvloop_as_the_worker_does(url):
    async def exchange() -> list:
        client = PipelinedRedis(url, timeout=2.0)
        try:
            return await asyncio.gather(client.execute("SET", "k", "v"), client.execute("GET", "k"))
        finally:
            await client.aclose()

    assert uvloop.run(exchange()) == [b"OK", b"v"]


async def test_an_error_reply_fails_only_its_caller(client):
    outcomes = await asyncio.gather(
        client.execute("SET", "a", "1"),
        client.execute("INCR", "a", "extra-argument"),
        client.execute("GET", "a"),
        return_exceptions=True,
    )
    assert outcomes[0] == b"OK"
    assert isinstance(outcomes[1], ResponseError)
    assert outcomes[2] == b"1"


async def test_a_script_redis_does_not_know_is_sent_whole_then_by_its_digest(client):
    script = Script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    await client.execute("SCRIPT", "FLUSH")
    assert await client.run_script(script, keys=["n"], args=[5]) == 5
    assert await client.execute("SCRIPT", "EXISTS", script.sha) == [1]
    assert await client.run_script(script, keys=["n"], args=[2]) == 7


async def test_a_silent_redis_times_the_waiting_callers_out_and_the_next_reconnects():
    accepted: list[asyncio.StreamWriter] = []

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = PipelinedRedis(f"redis://127.0.0.1:{port}/0", timeout=0.3)
    try:
        waiting = [client.execute("GET", "x") for _ in range(3)]
        outcomes = await asyncio.wait_for(asyncio.gather(*waiting, return_exceptions=True), 2)
        assert [type(outcome) for outcome in outcomes] == [redis.TimeoutError] * 3
        with pytest.raises(redis.TimeoutError):
            await asyncio.wait_for(client.execute("GET", "x"), 2)
        assert len(accepted) == 2  # the timed-out connection was dropped and a new one opened
    finally:
        await client.aclose()
        server.close()
        for writer in accepted:
            writer.close()


async def test_an_unreachable_redis_is_a_connection_error():
    client = PipelinedRedis("redis://127.0.0.1:1/0", timeout=0.5)
    with pytest.raises(redis.ConnectionError):
        await client.execute("PING")


def test_replies_split_anywhere_are_parsed_once_complete():
    reply = b"*3\r\n$5\r\nhello\r\n:42\r\n*2\r\n$-1\r\n+OK\r\n-ERR bad\r\n"
    for cut in range(len(reply) - 10):
        assert _parse(bytearray(reply[:cut]), 0) is None or cut >= reply.index(b"-ERR")
    value, position = _parse(bytearray(reply), 0)
    assert value == [b"hello", 42, [None, b"OK"]]
    error, end = _parse(bytearray(reply), position)
    assert isinstance(error, ResponseError) and str(error) == "ERR bad"
    assert end == len(reply)
