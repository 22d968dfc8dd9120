"""``SecuredEndpoint``: the asyncio ``Endpoint`` with the security service in front of it.

An adapter (it is an ``Endpoint``, so asyncio is fine here). The gate is consulted in
``message_received``, before the transaction layer: a dropped request creates no server
transaction (which would otherwise wait forever for an answer, or send ``100 Trying`` to
an INVITE: not silent) and costs no more than the gate's dict lookups. An answerable
malformed request from a dropped source gets no ``400`` either. Every final response the
application sends goes past ``SecurityService.observe``, which counts failed and successful
authentications (``sipcore.security.outcomes``): the registrar and the B2BUA need no hook.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sipcore.endpoint import Endpoint, EndpointConfig, ServerTransactionHandle
from sipcore.message import ParseError, Request, Response
from sipcore.security.service import SecurityService
from sipcore.transport import Channel, Peer

log = logging.getLogger(__name__)


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
        if self._admitted(message, source):
            super().message_received(message, source, channel)

    def parse_error(self, error: ParseError, source: Peer, channel: Channel) -> None:
        if error.request is None or self._admitted(error.request, source):
            super().parse_error(error, source, channel)

    def _respond(self, handle: ServerTransactionHandle, response: Response) -> None:
        super()._respond(handle, response)
        if response.status >= 200:
            try:
                self.security.observe(handle.request, response, handle.source.host, self._clock())
            except Exception:
                log.exception("counting the outcome of %r failed", handle)

    def _admitted(self, message: Request | Response, source: Peer) -> bool:
        try:
            return self.security.screen(message, source.host, self._clock())
        except Exception:  # a bug in the gate must not take SIP down with it
            log.exception("security screening of a message from %s failed", source)
            return True
