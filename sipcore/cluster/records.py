"""What one worker tells the others about itself: its name and the SIP address it listens on.

Stored as compact JSON in Redis (dialogue owners, presence). Anything read back that is not a
well-formed record raises ``ClusterError``: a corrupt or foreign value in the shared store must
never crash a worker, only make that one entry unusable.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

TRANSPORTS = frozenset({"udp", "tcp"})
MAX_WORKER_ID = 64
WORKER_ID = re.compile(rf"[A-Za-z0-9._:@-]{{1,{MAX_WORKER_ID}}}")
"""Safe inside a header parameter and a Redis key: ``HOST-PID`` and ``sip-1`` both fit."""


class ClusterError(Exception):
    """A shared-state record or a forwarded request that cannot be trusted or understood."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerInfo:
    """A SIP worker of the platform and where its peers reach it over SIP."""

    worker_id: str
    transport: str
    host: str
    port: int

    def __post_init__(self) -> None:
        if not WORKER_ID.fullmatch(self.worker_id):
            raise ClusterError(f"bad worker id {self.worker_id[:80]!r}: {WORKER_ID.pattern}")
        if self.transport not in TRANSPORTS:
            raise ClusterError(f"unsupported transport {self.transport!r}")
        if not self.host or not 0 < self.port <= 65535:
            raise ClusterError(f"bad SIP address {self.host!r}:{self.port!r}")

    def encode(self) -> str:
        record = {
            "id": self.worker_id,
            "transport": self.transport,
            "host": self.host,
            "port": self.port,
        }
        return json.dumps(record, separators=(",", ":"))

    @classmethod
    def decode(cls, raw: str | bytes) -> WorkerInfo:
        try:
            data = json.loads(raw)
            return cls(
                worker_id=str(data["id"]),
                transport=str(data["transport"]),
                host=str(data["host"]),
                port=int(data["port"]),
            )
        except (ValueError, TypeError, KeyError) as exc:
            raise ClusterError(f"not a worker record: {str(raw)[:80]!r}") from exc
