"""WebSocket routes of the monitor, mounted by ``sipplatform.asgi``."""

from django.urls import path

from sipplatform.monitor.consumers import MonitorConsumer

websocket_urlpatterns = [
    path("ws/monitor/", MonitorConsumer.as_asgi(), name="monitor"),
]
