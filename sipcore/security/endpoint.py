"""``SecuredEndpoint``: the asyncio ``Endpoint`` with the security service in front of it.

An adapter (it is an ``Endpoint``, so asyncio is fine here). The gate is consulted in
``message_received``, before the transaction layer: a dropped request creates no server
transaction (which would otherwise wait forever for an answer, or send ``100 Trying`` to
an INVITE: not silent) and costs no more than the gate's dict lookups. An answerable
malformed request from a dropped source gets no ``400`` either.

The gate judges the client's address (``SecurityGate.client_address``): a message's sender,
or behind a trusted front door the phone the front door names in ``X-Sipplatform-Source``.
The application gets the same address as ``handle.client`` (``client_of``), on which the
registrar and call admission apply IP allow lists, match providers and report failed
credentials to the security service (``sipcore.account_auth.AuthReport``).

A request dropped behind a front door is not dropped silently: the front door (Kamailio)
takes a worker that leaves a request unanswered for dead and moves every call off it, so a
banned phone could take the workers out one by one. It gets a stateless ``403`` (``503`` when
over its rate) carrying ``X-Sipplatform-Refused: <reason>;seconds=<n>``, on which the front
door drops that phone's requests itself, silently, for ``n`` seconds (``deploy/kamailio``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

from sipcore.endpoint import Endpoint, EndpointConfig
from sipcore.message import ParseError, Request, Response, make_response
from sipcore.security.gate import Decision, DropReason, Verdict
from sipcore.security.service import SecurityService
from sipcore.transport import Channel, Peer

log = logging.getLogger(__name__)

REFUSED_HEADER = "X-Sipplatform-Refused"
MAX_EDGE_BLOCK = 60
"""Seconds at most the front door drops a refused phone by itself: a ban lifted by staff
holds at the front door this long at most, then the workers judge again."""


def refusal(decision: Decision, ban_remaining: float) -> Response:
    """What a front door gets for a request the gate dropped (no Via, To tag or body yet):
    the status, and how long it should drop the phone's requests itself (0: not at all, for
    a locked account, which is not the address's fault)."""
    reason = decision.reason or DropReason.BANNED
    if reason is DropReason.RATE:
        status, seconds = 503, 1
    elif reason is DropReason.ACCOUNT_LOCKED:
        status, seconds = 403, 0
    elif reason is DropReason.SCANNER:
        status, seconds = 403, MAX_EDGE_BLOCK
    else:
        status, seconds = 403, min(MAX_EDGE_BLOCK, max(1, math.ceil(ban_remaining)))
    response = Response(status, "Over Rate" if status == 503 else "Forbidden")
    response.headers.add(REFUSED_HEADER, f"{reason.value};seconds={seconds}")
    return response


class SecuredEndpoint(Endpoint):
    """``clock`` gives Unix time, the clock bans are written in (shared by every worker)."""

    def __init__(
        self,
        config: EndpointConfig | None = None,
        *,
        security: SecurityService,
        clock: Callable[[], float],
    ) -> None:
        super().__init__(config)
        self.security = security
        self._clock = clock

    def message_received(self, message: Request | Response, source: Peer, channel: Channel) -> None:
        if self._admitted(message, source, channel):
            super().message_received(message, source, channel)

    def parse_error(self, error: ParseError, source: Peer, channel: Channel) -> None:
        if error.request is None or self._admitted(error.request, source, channel):
            super().parse_error(error, source, channel)

    def client_of(self, request: Request, source: Peer) -> Peer:
        """The phone's address when a trusted front door names it, else ``source``."""
        try:
            return self.security.gate.client(request, source)
        except Exception:  # a bug here must not take SIP down with it
            log.exception("reading the client address of a request from %s failed", source)
            return source

    def _admitted(self, message: Request | Response, source: Peer, channel: Channel) -> bool:
        try:
            gate = self.security.gate
            client = gate.client_address(message, source.host)
            now = self._clock()
            decision = self.security.judge(message, client, now)
            if decision.verdict is Verdict.ALLOW:
                return True
            if (
                isinstance(message, Request)
                and message.method != "ACK"
                and gate.is_front_door(source.host)
            ):
                refused = refusal(decision, gate.ban_remaining(client, now))
                self._refuse(message, refused, source, channel)
            return False
        except Exception:  # a bug in the gate must not take SIP down with it
            log.exception("security screening of a message from %s failed", source)
            return True

    def _refuse(self, request: Request, refused: Response, source: Peer, channel: Channel) -> None:
        """Answer ``request`` statelessly to the front door it came from with ``refused``'s
        status and headers: no transaction, so a flood costs no more than the answers."""
        response = make_response(request, refused.status, refused.reason)
        response.headers.remove("Content-Length")  # to_bytes writes it last
        for name, value in refused.headers.items():
            response.headers.add(name, value)
        self._send_on_channel(response.to_bytes(), channel, source)
