"""The monitor WebSocket: relays channel-layer events to one signed-in portal user.

The socket is accepted and then, for a visitor who may not watch, closed with an application
close code the page can act on: 4401 (not signed in: go to the sign-in page) or 4403 (signed in
but attached to no customer). Closing before accepting would turn both into an indistinct
HTTP 403 during the handshake.

The browser may send one kind of message, ``{"type": "filter", "expression": "event call"}``
(the language is in :mod:`sipplatform.monitor.filters`): the socket then carries only the
events that match, and answers ``monitor.filter`` with the expression as understood, or
``monitor.error`` with what is wrong (the previous filter stays in force).
"""

import json

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from sipplatform.monitor.events import MonitorBatch, MonitorMessage, group_for_user
from sipplatform.monitor.filters import MATCH_ALL, FilterError, MonitorFilter, parse_filter

CLOSE_NOT_SIGNED_IN = 4401
CLOSE_FORBIDDEN = 4403


class MonitorConsumer(AsyncJsonWebsocketConsumer):
    """One browser's monitor socket, a member of its customer's group or of staff's."""

    group: str | None = None
    event_filter: MonitorFilter = MATCH_ALL

    async def connect(self) -> None:
        await self.accept()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_NOT_SIGNED_IN)
            return
        group = group_for_user(user)
        if group is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self.channel_layer.group_add(group, self.channel_name)
        self.group = group
        await self.send_json({"type": "monitor.ready", "scope": group})

    async def disconnect(self, code: int) -> None:
        try:
            if self.group is not None:
                await self.channel_layer.group_discard(self.group, self.channel_name)
        finally:
            self.group = None

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """A filter message sets the socket's filter; anything else gets an error reply."""
        try:
            message = json.loads(text_data) if text_data is not None else None
        except ValueError:
            message = None
        if not isinstance(message, dict) or message.get("type") != "filter":
            await self.send_json(
                {
                    "type": "monitor.error",
                    "error": 'this socket accepts only {"type": "filter", "expression": "..."}',
                }
            )
            return
        try:
            self.event_filter = parse_filter(message.get("expression", ""))
        except FilterError as exc:
            await self.send_json({"type": "monitor.error", "error": str(exc)})
            return
        await self.send_json({"type": "monitor.filter", "expression": str(self.event_filter)})

    async def monitor_event(self, message: MonitorMessage) -> None:
        """A ``monitor.event`` from :func:`~sipplatform.monitor.events.publish_event`."""
        if self.event_filter.matches(message["event"]):
            await self.send_json(message["event"])

    async def monitor_events(self, message: MonitorBatch) -> None:
        """A ``monitor.events`` batch from :func:`~sipplatform.monitor.events.publish_events`,
        relayed one event at a time, in order."""
        for event in message["events"]:
            if self.event_filter.matches(event):
                await self.send_json(event)
