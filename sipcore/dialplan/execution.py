"""The worker's side of one dialplan execution: what each ``sys.*`` call means.

The sandbox only forwards the script's calls; every argument is checked here, in the
trusted process, before the ``DialplanHost`` sees it. A dial string error or a refused
header goes to the dialplan log and the script carries on (Dial returns "Error"); a call
with arguments of the wrong kind is a script error. After an answered Dial or a Respond
the script is over: the reply tells the sandbox to stop it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from sipcore.dialplan.model import (
    DEFAULT_RING_TIMEOUT,
    DialplanHost,
    DialplanOutcome,
    DialplanRequest,
    DialResultName,
    Direction,
    OutcomeKind,
)
from sipcore.dialstring import MAX_LEGS, DialContext, DialStringError, parse_dial_string

logger = logging.getLogger(__name__)

MAX_LOG_CHARS = 1000
MAX_REASON_CHARS = 128
MAX_HEADER_VALUE_CHARS = 1000
MAX_FIELD_CHARS = 65536  # of each req field shown to the script (a body, a header)
MAX_LOG_LINES = 100  # per execution: the log feeds the live monitor
MAX_CALLS = 1000  # sys.* calls per execution: waiting for replies costs no script time
FORBIDDEN_CUSTOM_HEADERS = frozenset(
    {"via", "v", "from", "f", "contact", "m", "cseq", "call-id", "i"}
    | {"max-forwards", "content-length", "l"}
)
_HEADER_NAME = re.compile(r"[A-Za-z0-9!%*_+`'~.-]+")
_UNSAFE_IN_HEADER = re.compile(r"[\x00-\x1f\x7f]")
_UNSAFE_IN_FROM_PART = re.compile(r"[\x00-\x1f\x7f<>\"]")

Reply = dict[str, Any]

_SIGNATURES: dict[str, tuple[str, tuple[str, ...], int]] = {
    # wire name: (name the script uses, parameters, how many are required)
    "dial": ("sys.Dial", ("dialstring", "ring_timeout", "answered_limit"), 1),
    "respond": ("sys.Respond", ("code", "reason"), 1),
    "log": ("sys.Log", ("text",), 1),
    "set_from_header": ("sys.SetFromHeader", ("name", "user", "host"), 0),
    "set_custom_header": ("sys.SetCustomSIPHeader", ("name", "value"), 2),
}


class ScriptCallError(ValueError):
    """A ``sys.*`` call with arguments that make no sense: the script fails with this text."""


class Execution:
    """Serves the ``sys.*`` calls of one script and decides how it ended."""

    def __init__(self, request: DialplanRequest, host: DialplanHost) -> None:
        self.request = request
        self._host = host
        call = request.call
        self._dial_context = DialContext(
            dst=call.uri_user, fromname=call.from_name, fromuriuser=call.from_user
        )
        self._legs_dialled = 0
        self._calls = 0
        self._log_lines = 0
        self._answered = False
        self._response: tuple[int, str] | None = None
        self._last_failure: tuple[int, str] | None = None
        self._handlers: dict[str, Callable[[dict[str, Any]], Awaitable[Reply]]] = {
            "dial": self._dial,
            "respond": self._respond,
            "log": self._log,
            "set_from_header": self._set_from_header,
            "set_custom_header": self._set_custom_header,
        }

    def sandbox_view(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The ``sys`` properties and the ``req`` fields the sandbox shows the script."""
        call = self.request.call
        info = {
            "out": call.direction is Direction.OUT,
            "in": call.direction is Direction.IN,
            "username": call.username,
            "dialplan_name": self.request.dialplan_name,
        }
        fields = {
            name: getattr(call, name)[:MAX_FIELD_CHARS]
            for name in (
                "method",
                "body",
                "uri_user",
                "uri_host",
                "from_name",
                "from_user",
                "from_host",
                "from_header",
                "to_name",
                "to_user",
                "to_host",
                "to_header",
            )
        }
        return info, fields

    async def handle(self, name: str, args: list[Any], kwargs: dict[str, Any]) -> Reply:
        """Serve one ``sys.*`` call; the reply goes back to the waiting script."""
        if self._answered or self._response is not None:
            return {"error": "the dialplan already ended", "stop": True}
        self._calls += 1
        if self._calls > MAX_CALLS:
            return {"error": f"more than {MAX_CALLS} sys calls"}
        try:
            arguments = self._bind(name, args, kwargs)
            return await self._handlers[name](arguments)
        except ScriptCallError as error:
            return {"error": str(error)}

    async def finish(self, error: str | None) -> DialplanOutcome:
        """The outcome once the script stopped; ``error`` is why it failed, if it did."""
        if self._answered:
            return DialplanOutcome(kind=OutcomeKind.ANSWERED, status=None, reason="")
        if self._response is not None:
            code, reason = self._response
            return DialplanOutcome(kind=OutcomeKind.RESPONDED, status=code, reason=reason)
        if error is not None:
            await self._host.log(f"dialplan error: {error}"[:MAX_LOG_CHARS])
            return DialplanOutcome(
                kind=OutcomeKind.ERROR, status=500, reason="Dialplan Error", error=error
            )
        status, reason = self._last_failure or (480, "Temporarily Unavailable")
        return DialplanOutcome(kind=OutcomeKind.FINISHED, status=status, reason=reason)

    @staticmethod
    def _bind(name: str, args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
        if name not in _SIGNATURES:
            raise ScriptCallError(f"unknown call {name!r}")
        shown, parameters, required = _SIGNATURES[name]
        if len(args) > len(parameters):
            raise ScriptCallError(f"{shown} takes at most {len(parameters)} arguments")
        bound = dict(zip(parameters, args, strict=False))
        for key, value in kwargs.items():
            if key not in parameters:
                raise ScriptCallError(f"{shown} has no argument {key!r}")
            if key in bound:
                raise ScriptCallError(f"{shown} got {key!r} twice")
            bound[key] = value
        missing = [parameter for parameter in parameters[:required] if parameter not in bound]
        if missing:
            raise ScriptCallError(f"{shown} needs {', '.join(missing)}")
        return bound

    async def _dial(self, arguments: dict[str, Any]) -> Reply:
        text = _text(arguments["dialstring"], "sys.Dial: the dial string")
        ring_timeout = _seconds(arguments.get("ring_timeout"), "ring_timeout")
        answered_limit = _seconds(arguments.get("answered_limit"), "answered_limit")
        try:
            dialstring = parse_dial_string(text, self._dial_context)
        except DialStringError as error:
            await self._host.log(f"sys.Dial({text!r}) failed: {error}"[:MAX_LOG_CHARS])
            return {"value": DialResultName.ERROR.value}
        if self._legs_dialled + len(dialstring.legs) > MAX_LEGS:
            await self._host.log(
                f"sys.Dial({text!r}) refused: a dialplan may dial at most {MAX_LEGS} legs"
            )
            return {"value": DialResultName.ERROR.value}
        self._legs_dialled += len(dialstring.legs)
        timeout = min(ring_timeout or DEFAULT_RING_TIMEOUT, DEFAULT_RING_TIMEOUT)
        result = await self._host.dial(dialstring, timeout, answered_limit)
        name = DialResultName(result.name)
        if name is DialResultName.ANSWERED:
            self._answered = True
            return {"value": name.value, "stop": True}
        reply: Reply = {"value": name.value}
        if result.status is not None:
            self._last_failure = (result.status, result.reason)
            reply["last_failure"] = [result.status, result.reason]
        return reply

    async def _respond(self, arguments: dict[str, Any]) -> Reply:
        code = arguments["code"]
        if isinstance(code, bool) or not isinstance(code, int) or not 300 <= code <= 699:
            raise ScriptCallError(f"sys.Respond: the code must be 300 to 699, not {code!r}")
        reason = _text(arguments.get("reason", ""), "sys.Respond: the reason")
        if len(reason) > MAX_REASON_CHARS or _UNSAFE_IN_HEADER.search(reason):
            raise ScriptCallError("sys.Respond: the reason must be one short line")
        await self._host.respond(code, reason)
        self._response = (code, reason)
        return {"stop": True}

    async def _log(self, arguments: dict[str, Any]) -> Reply:
        self._log_lines += 1
        if self._log_lines > MAX_LOG_LINES:
            if self._log_lines == MAX_LOG_LINES + 1:
                await self._host.log(f"sys.Log: over {MAX_LOG_LINES} lines, the rest are dropped")
            return {}
        text = arguments["text"]
        line = text if isinstance(text, str) else str(text)
        await self._host.log(_UNSAFE_IN_HEADER.sub(" ", line)[:MAX_LOG_CHARS])
        return {}

    async def _set_from_header(self, arguments: dict[str, Any]) -> Reply:
        parts = []
        for key in ("name", "user", "host"):
            value = arguments.get(key)
            if value is not None:
                value = _text(value, f"sys.SetFromHeader: the {key}")
                if len(value) > MAX_REASON_CHARS or _UNSAFE_IN_FROM_PART.search(value):
                    raise ScriptCallError(f"sys.SetFromHeader: the {key} {value!r} is not usable")
            parts.append(value)
        self._host.set_from_header(*parts)
        return {}

    async def _set_custom_header(self, arguments: dict[str, Any]) -> Reply:
        name = _text(arguments["name"], "sys.SetCustomSIPHeader: the name")
        value = _text(arguments["value"], "sys.SetCustomSIPHeader: the value")
        if not _HEADER_NAME.fullmatch(name):
            raise ScriptCallError(f"sys.SetCustomSIPHeader: {name!r} is not a header name")
        if len(value) > MAX_HEADER_VALUE_CHARS or _UNSAFE_IN_HEADER.search(value):
            raise ScriptCallError("sys.SetCustomSIPHeader: the value must be one short line")
        if name.lower() in FORBIDDEN_CUSTOM_HEADERS:
            await self._host.log(f"sys.SetCustomSIPHeader refused: a dialplan cannot set {name}")
            return {}
        self._host.set_custom_header(name, value)
        return {}


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ScriptCallError(f"{what} must be a string, not {value!r}")
    return value


def _seconds(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ScriptCallError(f"sys.Dial: {what} must be a positive number of seconds")
    return value
