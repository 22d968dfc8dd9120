"""The ASGI application: Django over HTTP and the monitor WebSocket, one protocol router.

Served by daphne in production (``daphne sipplatform.asgi:application``) and in-process by
``manage.py runplatform``. WebSockets pass the same host check as HTTP (a foreign page's
Origin is refused) and are authenticated by the portal's session cookie.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sipplatform.settings")

# Django must be set up before the consumers (and through them the models) are imported.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from sipplatform.monitor.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
