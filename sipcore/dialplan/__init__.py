"""Customers' Starlark dialplans, run in a pool of sandbox processes.

The SIP worker calls ``DialplanPool.run(request, host)``; the portal calls
``validate_source`` on every save (safe in any process) and ``DialplanPool.dry_run``
for the editor's dry run.
"""

from sipcore.dialplan.dryrun import (
    Action,
    Dial,
    Finished,
    Log,
    RecordingHost,
    Respond,
    SetCustomHeader,
    SetFromHeader,
)
from sipcore.dialplan.model import (
    CallContext,
    DialplanHost,
    DialplanOutcome,
    DialplanRequest,
    DialResult,
    DialResultName,
    Direction,
    OutcomeKind,
    SandboxLimits,
)
from sipcore.dialplan.pool import DialplanPool
from sipcore.dialplan.syntax import DialplanSyntaxError, validate_source

__all__ = [
    "Action",
    "CallContext",
    "Dial",
    "DialResult",
    "DialResultName",
    "DialplanHost",
    "DialplanOutcome",
    "DialplanPool",
    "DialplanRequest",
    "DialplanSyntaxError",
    "Direction",
    "Finished",
    "Log",
    "OutcomeKind",
    "RecordingHost",
    "Respond",
    "SandboxLimits",
    "SetCustomHeader",
    "SetFromHeader",
    "validate_source",
]
