"""A dry run: the actions a dialplan would take, with every Dial's outcome scripted.

The portal's editor shows these to the customer; no call is placed. ``RecordingHost`` is
an ordinary ``DialplanHost``, so the script runs in the same sandbox with the same checks
as a real call.
"""

from __future__ import annotations

from dataclasses import dataclass

from sipcore.dialplan.model import DialplanOutcome, DialResult, DialResultName
from sipcore.dialstring import DialLeg, DialPlanString

_FAILURE_STATUS = {
    DialResultName.NO_ANSWER: (480, "Temporarily Unavailable"),
    DialResultName.FAILED: (503, "Service Unavailable"),
    DialResultName.BUSY: (486, "Busy Here"),
    DialResultName.CANCELLED: (487, "Request Terminated"),
    DialResultName.TIMED_OUT: (408, "Request Timeout"),
    DialResultName.ERROR: (500, "Server Internal Error"),
    DialResultName.BLOCKED: (403, "Destination blocked by policy"),
}
UNSCRIPTED_RESULT = DialResultName.NO_ANSWER
"""What a Dial gets once the scripted outcomes run out."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Dial:
    dialstring: str  # as the script passed it
    legs: tuple[tuple[DialLeg, ...], ...]  # parsed and substituted: sequential groups of legs
    ring_timeout: int
    answered_limit: int | None
    result: DialResultName


@dataclass(frozen=True, slots=True, kw_only=True)
class Respond:
    code: int
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Log:
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SetFromHeader:
    name: str | None
    user: str | None
    host: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SetCustomHeader:
    name: str
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Finished:
    outcome: DialplanOutcome


Action = Dial | Respond | Log | SetFromHeader | SetCustomHeader | Finished


def scripted_result(name: DialResultName) -> DialResult:
    """The result a real call would give for ``name``, with a typical SIP status."""
    status, reason = _FAILURE_STATUS.get(name, (None, ""))
    return DialResult(name=name, status=status, reason=reason)


class RecordingHost:
    """A DialplanHost that places no call and records what the script asked for."""

    def __init__(self, scripted_outcomes: list[str]) -> None:
        known = {result.value for result in DialResultName}
        unknown = [name for name in scripted_outcomes if name not in known]
        if unknown:
            raise ValueError(f"unknown Dial outcomes {unknown} (known: {sorted(known)})")
        self._outcomes = [DialResultName(name) for name in scripted_outcomes]
        self.actions: list[Action] = []

    async def dial(
        self, dialstring: DialPlanString, ring_timeout: int, answered_limit: int | None
    ) -> DialResult:
        result = self._outcomes.pop(0) if self._outcomes else UNSCRIPTED_RESULT
        self.actions.append(
            Dial(
                dialstring=dialstring.source,
                legs=dialstring.groups,
                ring_timeout=ring_timeout,
                answered_limit=answered_limit,
                result=result,
            )
        )
        return scripted_result(result)

    async def respond(self, code: int, reason: str) -> None:
        self.actions.append(Respond(code=code, reason=reason))

    async def log(self, text: str) -> None:
        self.actions.append(Log(text=text))

    def set_from_header(self, name: str | None, user: str | None, host: str | None) -> None:
        self.actions.append(SetFromHeader(name=name, user=user, host=host))

    def set_custom_header(self, name: str, value: str) -> None:
        self.actions.append(SetCustomHeader(name=name, value=value))
