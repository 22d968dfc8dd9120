"""Redis clients for the SIP worker's shared state (security counters, cluster).

redis-py's default asyncio pool opens a new connection per concurrent command and raises
"Too many connections" past its limit, so a burst of requests (a registration storm) turned
into spurious failures. A blocking pool makes a burst wait briefly for one of a few
connections instead: Redis answers in well under a millisecond, so a small pool keeps up.
The two questions asked on every request (digest ``nc`` records, bindings versions) go through
``sipcore.redis_pipeline`` instead, which shares one pipelined connection.
"""

from __future__ import annotations

import redis.asyncio

MAX_CONNECTIONS = 32


def pooled_client(
    url: str, *, timeout: float, max_connections: int = MAX_CONNECTIONS
) -> redis.asyncio.Redis:
    """A client on ``url`` whose commands wait up to ``timeout`` seconds for a connection
    (and for Redis) rather than fail while the pool is busy."""
    pool = redis.asyncio.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
    )
    return redis.asyncio.Redis.from_pool(pool)  # the client closes the pool with it
