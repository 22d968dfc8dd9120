"""Running a ``sipcore.worker.SipWorker`` on the platform: its config from settings, its
directory and event sink from this app, and its life from start to a drained stop.

Shared by ``manage.py sipworker`` (a process of its own) and ``manage.py runplatform`` (the
worker on the portal's event loop), so both start, announce and stop the worker the same way.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import hmac
import os
import socket
from collections.abc import Callable, Sequence

from django.conf import settings

from sipcore.cluster import ClusterConfig
from sipcore.worker import SipWorker, WorkerConfig
from sipplatform.envconfig import ListenAddress
from sipplatform.security.conf import worker_config_fields
from sipplatform.security.stores import counter_store, nonce_counter_store
from sipplatform.sipworker.directory import DjangoDirectory
from sipplatform.sipworker.events import PlatformEventSink

NONCE_SECRET_CONTEXT = b"sipplatform sip digest nonces v1"
FORWARDING_SECRET_CONTEXT = b"sipplatform cluster forwarding v1"
WORKER_ID_MAX_LENGTH = 64

BoundAddress = tuple[str, str, int]


def nonce_secret(secret_key: str) -> bytes:
    """The digest nonce key, derived from ``SECRET_KEY``.

    Every worker sharing the platform's ``SECRET_KEY`` derives the same key, so a nonce one
    worker issued is accepted by another (a load balancer may send the retry elsewhere). The
    derivation keeps ``SECRET_KEY`` itself out of the SIP stack.
    """
    return hmac.new(secret_key.encode(), NONCE_SECRET_CONTEXT, hashlib.sha256).digest()


def cluster_config() -> ClusterConfig | None:
    """Shared state with the other workers when Redis is configured (``REDIS_URL``).

    The forwarding key is derived from ``SECRET_KEY`` like the nonce key, so every worker of
    the platform verifies the requests its peers forward. A worker listening on a wildcard
    address is reached by its peers at the address its host name resolves to.
    """
    if not settings.REDIS_URL:
        return None
    secret = hmac.new(settings.SECRET_KEY.encode(), FORWARDING_SECRET_CONTEXT, hashlib.sha256)
    return ClusterConfig(
        redis_url=settings.REDIS_URL,
        forwarding_secret=secret.digest(),
        advertise_host=advertised_host(),
    )


def advertised_host() -> str:
    """This host's address for its peers, or "" when its name does not resolve."""
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return ""


def default_worker_id() -> str:
    """``host-pid``: unique among the workers sharing a database, and readable in the portal."""
    return f"{socket.gethostname()}-{os.getpid()}"[-WORKER_ID_MAX_LENGTH:]


def worker_config(
    *, worker_id: str | None = None, drain_grace: float | None = None
) -> WorkerConfig:
    """The worker's settings: domain and secrets from Django settings, the rest defaults."""
    overrides = {} if drain_grace is None else {"drain_grace": drain_grace}
    return WorkerConfig(
        worker_id=worker_id or default_worker_id(),
        default_domain=settings.SIP_DOMAIN,
        nonce_secret=nonce_secret(settings.SECRET_KEY),
        cluster=cluster_config(),
        **worker_config_fields(),
        digest_algorithms=settings.SIP_DIGEST_ALGORITHMS,
        **overrides,
    )


def listen_tuples(addresses: Sequence[ListenAddress]) -> list[BoundAddress]:
    return [(address.transport, address.host, address.port) for address in addresses]


def format_address(address: BoundAddress) -> str:
    transport, host, port = address
    return str(ListenAddress(transport=transport, host=host, port=port))


GC_THRESHOLDS = (20_000, 20, 50)
"""Young-generation collections every 20,000 allocations rather than 700: a call allocates a
few thousand objects, nearly all freed by reference counting, so the default runs the
collector several times per call for nothing."""


def settle_heap() -> None:
    """Take what start-up left on the heap (Django, the models, the code: some 300,000
    objects) out of the cyclic garbage collector's view.

    Every full collection walks the whole heap (about 0.2 s here), and under load a full
    collection comes every few hundred calls: about 1 ms of CPU per call, spent re-examining
    objects that live as long as the process. Only collection is affected: frozen objects
    are still freed by reference counting.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def run_worker(
    listen: Sequence[ListenAddress],
    stop: asyncio.Event,
    *,
    config: WorkerConfig,
    on_started: Callable[[list[BoundAddress]], None],
) -> None:
    """Serve SIP on ``listen`` until ``stop`` is set, then drain and close.

    Draining stops taking new calls, lets active calls run up to ``config.drain_grace``
    seconds and ends the rest with BYE. Whatever happens (a socket that cannot be bound,
    cancellation), the worker, its queued events and records, and its database connections
    are closed before this returns or raises.
    """
    directory = DjangoDirectory(bindings_redis_url=settings.REDIS_URL or None)
    events = PlatformEventSink(worker_id=config.worker_id)
    bans = counter_store()
    nonces = nonce_counter_store()
    worker = SipWorker(
        directory=directory,
        events=events,
        config=config,
        counter_store=bans,
        nonce_counters=nonces,
    )
    try:
        directory.watch_changes()
        bound = await worker.start(listen_tuples(listen))
        settle_heap()
        on_started(bound)
        await stop.wait()
        await worker.drain(config.drain_grace)
    finally:
        try:
            await worker.close()
        finally:
            await events.close()
            await directory.close()
            await bans.close()
            if nonces is not None:
                await nonces.close()
