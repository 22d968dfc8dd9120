"""The ``DialplanHost`` a running dialplan talks to: each ``sys.*`` call acts on one session.

The sandbox pool has already checked every argument (``sipcore.dialplan.execution``);
this binds what is left to the B2BUA's ``DialSession`` (a caller's call, or a transfer's
target call): Dial places the call, Respond ends the attempt with that status (the caller's
final response, or a transfer's failure), Log becomes a ``dialplan.log`` monitor event, and
the From and custom header settings apply to every later Dial of the script.
"""

from __future__ import annotations

from sipcore.b2bua.session import DialSession
from sipcore.dialplan import DialResult
from sipcore.dialstring import DialPlanString


class CallDialplanHost:
    def __init__(self, session: DialSession) -> None:
        self.session = session

    async def dial(
        self, dialstring: DialPlanString, ring_timeout: int, answered_limit: int | None
    ) -> DialResult:
        return await self.session.dial(dialstring, float(ring_timeout), answered_limit)

    async def respond(self, code: int, reason: str) -> None:
        self.session.respond(code, reason)

    async def log(self, text: str) -> None:
        self.session.log(text)

    def set_from_header(self, name: str | None, user: str | None, host: str | None) -> None:
        self.session.set_from(name, user, host)

    def set_custom_header(self, name: str, value: str) -> None:
        self.session.add_header(name, value)
