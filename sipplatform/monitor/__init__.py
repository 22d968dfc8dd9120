"""Live call monitor: the WebSocket that streams SIP worker events to the portal.

The SIP worker publishes ``call.*``, ``transfer.*``, ``registration.*``, ``security.*`` and
``dialplan.*`` events through :mod:`sipplatform.monitor.events`;
:class:`~sipplatform.monitor.consumers.MonitorConsumer` relays each to the signed-in user's
sockets, one group per customer and one for platform staff.
"""
