"""Shared state between the platform's SIP workers, for running several behind a front door.

* ``records``: ``WorkerInfo`` (a worker's id and SIP address), ``ClusterError``.
* ``leases``: Redis leases (``SET NX PX``, compare-and-extend, compare-and-delete in Lua).
* ``ownership``: the dialogue-ownership map, Call-ID -> owning worker, refreshed while a call
  lives and removed at hangup.
* ``presence``: worker heartbeats; who is alive.
* ``providers``: provider registration leases, so exactly one worker registers each
  provider and another takes over within a refresh interval when it dies.
* ``forwarding`` (sans-I/O): the dialogue a request needs; the signed stamp that lets a
  worker accept a request a peer worker forwarded to it.
* ``router``: proxies a request for another worker's call to that worker over SIP.
* ``dialogues``: asks the worker holding a dialogue to describe it (an attended transfer's
  Replaces judged before the 202), over Redis.
* ``takeover`` (sans-I/O): the signed stamp on a worker's INVITE replacing another worker's
  dialogue (``sipcore.b2bua.crossworker`` completes attended transfers across workers).
* ``member``: one worker's presence, dialogues and router, kept fresh by one task.

Registrations, nonce counters, bans and rate counters are shared elsewhere (the database and
``sipcore.security``); a worker's own calls are the only state others cannot see, and the
ownership map is how they find them. The front door is Kamailio (``deploy/kamailio``).
"""

from sipcore.cluster.forwarding import FORWARDED_HEADER, Forwarded, ForwardSigner, dialogue_needed
from sipcore.cluster.leases import RedisLeases
from sipcore.cluster.member import ClusterConfig, ClusterMember
from sipcore.cluster.ownership import DialogueOwnership
from sipcore.cluster.presence import WorkerPresence
from sipcore.cluster.providers import ProviderLeases
from sipcore.cluster.records import ClusterError, WorkerInfo
from sipcore.cluster.router import ClusterRouter

__all__ = [
    "FORWARDED_HEADER",
    "ClusterConfig",
    "ClusterError",
    "ClusterMember",
    "ClusterRouter",
    "DialogueOwnership",
    "ForwardSigner",
    "Forwarded",
    "ProviderLeases",
    "RedisLeases",
    "WorkerInfo",
    "WorkerPresence",
    "dialogue_needed",
]
