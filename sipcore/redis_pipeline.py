"""One Redis connection shared by every concurrent caller, its commands pipelined.

The worker asks Redis something on every authenticated request (the digest ``nc`` record)
and every REGISTER (the bindings version). Through redis-py's asyncio client each command
cost the event loop about 130 µs (a pooled connection taken and given back, retries,
command packing), a third of the loop's time in a registration storm, and once the loop
lagged, commands timed out waiting for a pooled connection. Redis answers the commands of
one connection in order, so one connection serves any number of callers: every command
issued in one pass of the event loop goes out in one write, and each reply settles the
oldest waiting caller.

A connection that breaks or leaves its oldest command unanswered for ``timeout`` seconds
fails every waiting caller with redis-py's ``ConnectionError`` or ``TimeoutError`` (so the
callers' existing ``except redis.RedisError`` handling applies) and is opened again by the
next command. Error replies raise ``ResponseError``.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from urllib.parse import unquote, urlsplit

from redis import exceptions as redis_errors
from redis.exceptions import ResponseError

Reply = bytes | int | list | None


class Script:
    """A Lua script run with ``EVALSHA``, sent whole (``EVAL``) only when Redis lacks it."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()


class PipelinedRedis:
    """A Redis client for ``redis://[:password@]host[:port][/db]``, pipelining its callers."""

    def __init__(self, url: str, *, timeout: float) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 6379
        self.password = unquote(parts.password) if parts.password else None
        self.database = int(parts.path.lstrip("/") or 0)
        self.timeout = timeout
        self._connection: _Connection | None = None
        self._connecting: asyncio.Future[_Connection] | None = None

    async def execute(self, *command: str | bytes | int | float) -> Reply:
        """Send ``command`` (``"GET", key``) and return its reply."""
        connection = self._connection
        if connection is None or connection.closed:
            connection = await self._connect()
        return await connection.send(command)

    async def run_script(self, script: Script, keys: list[str], args: list[object]) -> Reply:
        """``EVALSHA`` the script, loading it with ``EVAL`` when Redis answers ``NOSCRIPT``."""
        try:
            return await self.execute("EVALSHA", script.sha, len(keys), *keys, *args)
        except ResponseError as error:
            if not str(error).startswith("NOSCRIPT"):
                raise
        return await self.execute("EVAL", script.source, len(keys), *keys, *args)

    async def aclose(self) -> None:
        if self._connection is not None:
            self._connection.close(redis_errors.ConnectionError("closed"))
            self._connection = None

    async def _connect(self) -> _Connection:
        """The open connection; callers arriving while it opens share the one attempt."""
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._open())
        connecting = self._connecting
        try:
            return await asyncio.shield(connecting)
        finally:
            if self._connecting is connecting and connecting.done():
                self._connecting = None

    async def _open(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.timeout):
                _, connection = await loop.create_connection(
                    lambda: _Connection(self.timeout), self.host, self.port
                )
                if self.password is not None:
                    await connection.send(("AUTH", self.password))
                if self.database:
                    await connection.send(("SELECT", self.database))
        except OSError as error:
            where = f"Redis at {self.host}:{self.port}"
            raise redis_errors.ConnectionError(f"{where}: {error}") from error
        except TimeoutError as error:
            where = f"Redis at {self.host}:{self.port}"
            raise redis_errors.TimeoutError(f"{where} did not answer") from error
        self._connection = connection
        return connection


class _Connection(asyncio.Protocol):
    """One TCP connection: commands queued in one pass of the loop are written together;
    replies, parsed as they arrive, settle the waiting callers in order."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.closed = False
        self._transport: asyncio.Transport | None = None
        self._outgoing: list[bytes] = []
        self._waiting: deque[tuple[float, asyncio.Future[Reply]]] = deque()
        self._received = bytearray()
        self._watch: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is no asyncio.Transport

    def send(self, command: tuple) -> asyncio.Future[Reply]:
        if self.closed or self._transport is None:
            raise redis_errors.ConnectionError("the Redis connection is closed")
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[Reply] = loop.create_future()
        if not self._outgoing:
            loop.call_soon(self._flush)
        self._outgoing.append(_encode(command))
        self._waiting.append((loop.time(), reply))
        if self._watch is None:
            self._watch = loop.call_later(self.timeout, self._check_oldest)
        return reply

    def _flush(self) -> None:
        if self._transport is not None and self._outgoing:
            self._transport.write(b"".join(self._outgoing))
        self._outgoing.clear()

    def data_received(self, data: bytes) -> None:
        self._received += data
        position = 0
        try:
            while self._waiting:
                parsed = _parse(self._received, position)
                if parsed is None:
                    break
                value, position = parsed
                _, reply = self._waiting.popleft()
                if reply.done():
                    continue
                if isinstance(value, ResponseError):
                    reply.set_exception(value)
                else:
                    reply.set_result(value)
        except ValueError as error:
            self.close(redis_errors.ConnectionError(f"unreadable reply from Redis: {error}"))
            return
        del self._received[:position]

    def _check_oldest(self) -> None:
        self._watch = None
        if not self._waiting:
            return
        loop = asyncio.get_running_loop()
        sent, _ = self._waiting[0]
        overdue = sent + self.timeout - loop.time()
        if overdue <= 0:
            self.close(redis_errors.TimeoutError(f"Redis did not answer within {self.timeout:g} s"))
            return
        self._watch = loop.call_later(overdue, self._check_oldest)

    def connection_lost(self, exc: Exception | None) -> None:
        reason = exc or "closed by the server"
        self.close(redis_errors.ConnectionError(f"Redis connection lost: {reason}"))

    def close(self, error: Exception) -> None:
        self.closed = True
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        while self._waiting:
            _, reply = self._waiting.popleft()
            if not reply.done():
                reply.set_exception(error)


def _encode(command: tuple) -> bytes:
    """A command as a RESP array of bulk strings."""
    parts = [b"*%d\r\n" % len(command)]
    for argument in command:
        if isinstance(argument, bytes):
            data = argument
        elif isinstance(argument, str):
            data = argument.encode()
        else:
            data = str(argument).encode()
        parts.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(parts)


def _parse(buffer: bytearray, position: int) -> tuple[Reply | ResponseError, int] | None:
    """The RESP2 reply starting at ``position`` and where the next starts; None when it has
    not all arrived."""
    end = buffer.find(b"\r\n", position)
    if end < 0:
        return None
    kind, line = buffer[position : position + 1], bytes(buffer[position + 1 : end])
    after = end + 2
    if kind == b"+":
        return line, after
    if kind == b"-":
        return ResponseError(line.decode(errors="replace")), after
    if kind == b":":
        return int(line), after
    if kind == b"$":
        size = int(line)
        if size < 0:
            return None, after
        if len(buffer) < after + size + 2:
            return None
        return bytes(buffer[after : after + size]), after + size + 2
    if kind == b"*":
        count = int(line)
        if count < 0:
            return None, after
        items: list = []
        for _ in range(count):
            parsed = _parse(buffer, after)
            if parsed is None:
                return None
            item, after = parsed
            items.append(item)
        return items, after
    raise ValueError(f"unknown reply type {kind!r}")
