"""The ASGI app that ``runplatform`` serves with Hypercorn (and the browser tests serve too).

No proxy stands in front of the embedded server, so it serves the static files itself; and it
answers Hypercorn's lifespan messages, which Channels' router does not speak.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

from sipplatform.asgi import application

static_files_and_app = ASGIStaticFilesHandler(application)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def acknowledge_lifespan(receive: Receive, send: Send) -> None:
    """Answer the ASGI lifespan protocol, which Hypercorn speaks and Channels' router does not.

    Starting and stopping the in-process services is ``runplatform``'s business, not the app's.
    """
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def embedded_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The production ASGI app plus static files: no proxy stands in front of this server."""
    if scope["type"] == "lifespan":
        await acknowledge_lifespan(receive, send)
    else:
        await static_files_and_app(scope, receive, send)
