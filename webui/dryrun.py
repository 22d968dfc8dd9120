"""Dialplan dry runs for the editor: the saved script against a described call.

Each dry run starts its own one-sandbox ``DialplanPool`` on a private event loop and closes
it before returning, instead of keeping a pool alive in the web process. Why: the web process
is served by daphne (ASGI) in production, by a thread of ``runplatform`` when embedded and by
WSGI test servers, so there is no one event loop a long-lived pool could belong to, nor a
shutdown hook every server runs. A pool per dry run costs a sandbox start (a fraction of a
second, once per click) and leaves nothing behind: no process to leak when the web server
reloads or dies, and a script that exhausts its sandbox takes only its own dry run down. A
semaphore bounds how many run at once, so a burst of clicks cannot fork without limit.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

from sipcore.dialplan import (
    CallContext,
    Dial,
    DialplanPool,
    DialplanRequest,
    Direction,
    Finished,
    Log,
    Respond,
    SandboxLimits,
    SetCustomHeader,
    SetFromHeader,
)
from sipcore.dialplan.dryrun import Action
from sipcore.dialstring import DialLeg
from sipplatform.dialplans.models import Dialplan

DRY_RUN_LIMITS = SandboxLimits(
    memory_bytes=512 * 1024 * 1024,
    script_seconds=5.0,
    evaluations_per_sandbox=1,
    queue_seconds=1.0,
)
DRY_RUN_SECONDS = 30.0
CONCURRENT_DRY_RUNS = 2
_running = threading.BoundedSemaphore(CONCURRENT_DRY_RUNS)


class DryRunBusy(Exception):
    """Too many dry runs are running in this web process; try again in a moment."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DryRunCall:
    direction: str
    account: str
    from_user: str
    to_user: str
    domain: str
    outcomes: list[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionLine:
    """One row of the dry run's result: ``kind`` is Dial, Respond, Log, Set From, Header or
    End."""

    kind: str
    summary: str
    detail: str = ""
    tone: str = ""


def dry_run(dialplan: Dialplan, call: DryRunCall) -> list[ActionLine]:
    """Run ``dialplan``'s saved script for ``call``; raises ``DryRunBusy`` when saturated."""
    request = DialplanRequest(
        customer_id=dialplan.customer_id,
        dialplan_name=dialplan.name,
        source=dialplan.script,
        call=CallContext(
            direction=Direction(call.direction),
            username=call.account,
            uri_user=call.to_user,
            uri_host=call.domain,
            from_user=call.from_user,
            from_host=call.domain,
            from_header=f"<sip:{call.from_user}@{call.domain}>",
            to_user=call.to_user,
            to_host=call.domain,
            to_header=f"<sip:{call.to_user}@{call.domain}>",
        ),
    )
    if not _running.acquire(timeout=DRY_RUN_SECONDS):
        raise DryRunBusy("every dry-run place is taken; try again in a moment")
    try:
        actions = asyncio.run(_run(request, call.outcomes))
    finally:
        _running.release()
    return [describe(action) for action in actions]


async def _run(request: DialplanRequest, outcomes: list[str]) -> list[Action]:
    async with DialplanPool(size=1, limits=DRY_RUN_LIMITS) as pool:
        return await asyncio.wait_for(pool.dry_run(request, outcomes), DRY_RUN_SECONDS)


def describe(action: Action) -> ActionLine:
    """A plain-language line for one action of a dry run."""
    match action:
        case Dial():
            legs = " | ".join(" & ".join(map(_leg_text, group)) for group in action.legs)
            limit = f", answered limit {action.answered_limit} s" if action.answered_limit else ""
            return ActionLine(
                kind="Dial",
                summary=f"{action.dialstring} → {action.result}",
                detail=f"legs {legs}; rings up to {action.ring_timeout} s{limit}",
                tone="ok" if action.result == "Answered" else "",
            )
        case Respond():
            return ActionLine(kind="Respond", summary=f"{action.code} {action.reason}")
        case Log():
            return ActionLine(kind="Log", summary=action.text)
        case SetFromHeader():
            parts = (
                f"{label} {value}"
                for label, value in (
                    ("name", action.name),
                    ("user", action.user),
                    ("host", action.host),
                )
                if value
            )
            return ActionLine(kind="Set From", summary=", ".join(parts) or "unchanged")
        case SetCustomHeader():
            return ActionLine(kind="Header", summary=f"{action.name}: {action.value}")
        case Finished():
            outcome = action.outcome
            status = f" with {outcome.status} {outcome.reason}" if outcome.status else ""
            return ActionLine(
                kind="End",
                summary=f"{outcome.kind}{status}",
                detail=outcome.error or "",
                tone="bad" if outcome.error else "ok",
            )
    raise TypeError(f"unknown dry-run action {action!r}")


def _leg_text(leg: DialLeg) -> str:
    return leg.uri or f"{leg.user}@{leg.host}"
