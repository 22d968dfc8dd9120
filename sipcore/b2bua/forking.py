"""Ringing a dial string's destinations: groups in sequence, the legs of a group in parallel.

The first 2xx wins; every other leg of the group gets CANCEL (and an answer that still comes
is acknowledged and hung up by the leg itself). A group whose legs all failed hands over to
the next. The ring timeout covers the whole Dial; the caller hanging up stops everything.
When nothing answered, the most telling failure is reported (RFC 3261 §16.7 in spirit:
a global failure first, then busy, then other client errors, then server errors).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from sipcore.auth import DigestClient
from sipcore.b2bua.background import Background
from sipcore.b2bua.flag import Signal
from sipcore.b2bua.leg import OutboundLeg
from sipcore.dialplan import DialResult, DialResultName
from sipcore.message import URI, Response
from sipcore.transport import Peer

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """One concrete destination a dial-string leg resolved to."""

    request_uri: URI
    peer: Peer
    from_address: str
    """The From header value without its tag."""
    description: str
    """What was dialled, for the call detail record."""
    delay: float = 0.0
    answered_limit: int | None = None
    transfer: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    auth: Callable[[], DigestClient] | None = None
    account_id: int | None = None
    provider_id: int | None = None
    hairpin: bool = False
    """A leg back to this worker, so the account's incoming dialplan runs."""


@dataclass(slots=True)
class ForkResult:
    result: DialResult
    winner: OutboundLeg | None = None
    answer: Response | None = None
    target: Target | None = None
    failures: list[Response] = field(default_factory=list)


LegStarter = Callable[[Target], Awaitable[OutboundLeg]]
LegFinished = Callable[[OutboundLeg, Response], None]

_BUSY = frozenset({486, 600})


def failure_result(statuses: Sequence[Response]) -> DialResult:
    """The DialResult for a Dial where every leg failed with one of ``statuses``."""
    if not statuses:
        return DialResult(name=DialResultName.FAILED, status=503, reason="Service Unavailable")
    best = min(statuses, key=lambda response: _rank(response.status))
    status = best.status
    if status in _BUSY:
        name = DialResultName.BUSY
    elif status == 487:
        name = DialResultName.CANCELLED
    elif status == 408:
        name = DialResultName.TIMED_OUT
    elif status == 480:
        name = DialResultName.NO_ANSWER
    else:
        name = DialResultName.FAILED
    return DialResult(name=name, status=status, reason=best.reason)


def _rank(status: int) -> tuple[int, int]:
    if status >= 600:
        return (0, status)
    if status in _BUSY:
        return (1, status)
    if 400 <= status < 500 and status not in (408, 480, 487):
        return (2, status)
    if status == 480:
        return (3, status)
    if status >= 500:
        return (4, status)
    if status == 408:
        return (5, status)
    return (6, status)


class Fork:
    """Rings groups of targets for one Dial; ``run`` returns the winner or the failure."""

    def __init__(
        self,
        *,
        start_leg: LegStarter,
        leg_finished: LegFinished,
        caller_gone: Signal,
        background: Background,
    ) -> None:
        self._start_leg = start_leg
        self._leg_finished = leg_finished
        self._caller_gone = caller_gone
        self._background = background

    async def run(self, groups: Sequence[Sequence[Target]], ring_timeout: float) -> ForkResult:
        failures: list[Response] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ring_timeout
        for group in groups:
            outcome = await self._ring(group, deadline, failures)
            if outcome is not None:
                return outcome
            if self._caller_gone.is_set():
                break
        if self._caller_gone.is_set():
            result = DialResult(name=DialResultName.CANCELLED, status=487, reason="Cancelled")
            return ForkResult(result=result, failures=failures)
        if loop.time() >= deadline:
            result = DialResult(name=DialResultName.NO_ANSWER, status=480, reason="No Answer")
            return ForkResult(result=result, failures=failures)
        return ForkResult(result=failure_result(failures), failures=failures)

    async def _ring(
        self, group: Sequence[Target], deadline: float, failures: list[Response]
    ) -> ForkResult | None:
        """Ring ``group`` until one answers (returned), all fail or time runs out (None)."""
        stop = asyncio.Event()
        legs: list[OutboundLeg] = []
        pending = {
            self._background.spawn(self._attempt(target, stop, legs), "a forked leg")
            for target in group
        }
        gone = asyncio.ensure_future(self._caller_gone.wait())
        winner: OutboundLeg | None = None
        try:
            while pending:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                done, pending = await asyncio.wait(
                    pending | {gone}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )
                pending.discard(gone)
                if gone in done:
                    break
                for task in done:
                    attempt = task.result()
                    if attempt is None:
                        continue
                    leg, target, response = attempt
                    if 200 <= response.status < 300 and not leg.unwanted:
                        winner = leg
                        return ForkResult(
                            result=DialResult(name=DialResultName.ANSWERED, status=response.status),
                            winner=leg,
                            answer=response,
                            target=target,
                        )
                    failures.append(response)
            return None
        finally:
            stop.set()
            self._give_up(legs, except_leg=winner)
            gone.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await gone

    async def _attempt(
        self, target: Target, stop: asyncio.Event, legs: list[OutboundLeg]
    ) -> tuple[OutboundLeg, Target, Response] | None:
        if target.delay > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(target.delay):
                    await stop.wait()
        if stop.is_set():
            return None
        try:
            leg = await self._start_leg(target)
            legs.append(leg)
            response = await leg.run()
        except (OSError, ConnectionError) as error:
            log.info("could not call %s: %s", target.description, error)
            return None
        if not (200 <= response.status < 300) or leg.unwanted:
            self._leg_finished(leg, response)
        return leg, target, response

    @staticmethod
    def _give_up(legs: list[OutboundLeg], *, except_leg: OutboundLeg | None) -> None:
        for leg in legs:
            if leg is not except_leg:
                leg.cancel()
