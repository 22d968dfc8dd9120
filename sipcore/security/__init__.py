"""Scanner and brute-force defence for the SIP worker; sans-I/O, no Django.

* ``SecurityGate`` (``gate``): consulted first for every received message; drops banned
  sources, sources over their request rate (``ratelimit``), known scanners (``scanners``)
  and credentials naming a locked account, from local state only; behind a trusted front
  door (Kamailio) it judges the phone the front door names in ``X-Sipplatform-Source``.
* ``SecurityService`` (``service``): counts failed authentications per source address and
  per account in a ``CounterStore`` (``store``: in memory, or ``redis_store`` shared by every
  worker), bans by the ``BanPolicy`` (``policy``: growing duration per repeat offence,
  released automatically), keeps the gate's bans current, lifts bans.
* ``security.banned`` / ``unbanned`` / ``flood`` / ``scanner`` monitor events (``events``).
"""

from sipcore.security.bans import Ban, BanReason, Subject, SubjectKind
from sipcore.security.events import banned_event, flood_event, scanner_event, unbanned_event
from sipcore.security.gate import (
    ALLOW,
    Decision,
    DropReason,
    GateConfig,
    SecurityGate,
    Verdict,
)
from sipcore.security.policy import BanPolicy
from sipcore.security.ratelimit import TokenBucketLimiter
from sipcore.security.scanners import KNOWN_SCANNERS, ScannerDetector, ScannerSignature
from sipcore.security.service import SecurityService
from sipcore.security.store import CounterStore, MemoryCounterStore

__all__ = [
    "ALLOW",
    "KNOWN_SCANNERS",
    "Ban",
    "BanPolicy",
    "BanReason",
    "CounterStore",
    "Decision",
    "DropReason",
    "GateConfig",
    "MemoryCounterStore",
    "ScannerDetector",
    "ScannerSignature",
    "SecurityGate",
    "SecurityService",
    "Subject",
    "SubjectKind",
    "TokenBucketLimiter",
    "Verdict",
    "banned_event",
    "flood_event",
    "scanner_event",
    "unbanned_event",
]
