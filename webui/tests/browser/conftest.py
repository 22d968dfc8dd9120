"""A live portal for browser tests: the production ASGI app served by Hypercorn on a thread of
the test process, and Debian's chromium driven by Playwright.

The server shares the test database (pytest-django's, committed per test with
``transactional_db``) and a channel layer with the test, so the test can publish monitor
events as the SIP worker would: channels_redis on ``TEST_REDIS_URL`` when set (as in
production), otherwise the in-memory layer. Events are published on the server's own loop,
which both layers accept. Playwright never downloads a browser here: it launches the system's
``chromium``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypercorn.asyncio import serve
from hypercorn.config import Config

from sipcore.testing import free_port, wait_until
from sipplatform.monitor.events import publish_event
from webui.embedded import embedded_app

REPO = Path(__file__).resolve().parents[3]
SCREENSHOTS = REPO / "docs" / "screenshots"
PORTS = range(8200, 8300)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START_SECONDS = 15


@dataclass
class LivePortal:
    url: str
    loop: asyncio.AbstractEventLoop

    def publish(self, customer_id: int | None, event: dict[str, Any]) -> None:
        """Publish a monitor event as the SIP worker does, and wait until it is sent."""
        future = asyncio.run_coroutine_threadsafe(publish_event(customer_id, event), self.loop)
        future.result(timeout=5)


@pytest.fixture
def portal(transactional_db, settings) -> Iterator[LivePortal]:
    port = free_port(PORTS)
    redis_url = os.environ.get("TEST_REDIS_URL", "")
    if redis_url:
        settings.CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": [redis_url], "prefix": f"webui-browser-{port}"},
            }
        }
    else:
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.graceful_timeout = 1
    loop = asyncio.new_event_loop()
    stop: asyncio.Event | None = None
    started = threading.Event()

    async def run() -> None:
        nonlocal stop
        stop = asyncio.Event()
        started.set()
        await serve(embedded_app, config, shutdown_trigger=stop.wait)

    def serve_until_stopped() -> None:
        # Closed on its own thread: channels_redis flushes its connections as the loop closes,
        # which cannot run on the test's thread (Playwright keeps a loop running there).
        try:
            loop.run_until_complete(run())
        finally:
            loop.close()

    thread = threading.Thread(target=serve_until_stopped, daemon=True)
    thread.start()
    assert started.wait(START_SECONDS)
    wait_for_port(port)
    try:
        yield LivePortal(url=f"http://127.0.0.1:{port}", loop=loop)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(START_SECONDS)


def wait_for_port(port: int) -> None:
    wait_until(
        lambda: socket.create_connection(("127.0.0.1", port), timeout=0.1).close() is None,
        START_SECONDS,
        retry_on=(OSError,),
    )


@pytest.fixture(autouse=True)
def orm_beside_playwright(monkeypatch) -> None:
    """Playwright's sync API keeps an event loop on the test's thread between calls, which
    Django takes for async code; the test's ORM calls are plain blocking calls all the same."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="module")
def chromium(django_db_setup):
    """The browser, started after the test database exists (so its set-up runs loop-free) and
    stopped with the module: Playwright's loop must not outlive the browser tests, or the
    suite's asyncio tests that follow would find it on their thread."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, portal):
    """A fresh browser context, closed before the portal stops (its monitor socket first)."""
    context = chromium.new_context(
        viewport={"width": 1280, "height": 860}, accept_downloads=True, locale="en-GB"
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def screenshot_dir() -> Path:
    """Where screenshots go: the README's docs/screenshots/ only when ``UPDATE_SCREENSHOTS=1``,
    so that an ordinary test run leaves the tracked images alone."""
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        return SCREENSHOTS
    return Path(tempfile.gettempdir()) / "sipplatform-screenshots"


def screenshot(page, name: str) -> None:
    """Save a screenshot of the page (for the README when ``UPDATE_SCREENSHOTS=1``)."""
    directory = screenshot_dir()
    directory.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=directory / f"{name}.png", full_page=True)


@dataclass
class LiveSip:
    """The platform's SIP worker running on the portal's loop, and phones to call through it."""

    portal: LivePortal
    server: Any  # sipcore.transport.Peer of the worker's UDP socket
    domain: str
    phones: list[Any] = field(default_factory=list)

    def run(self, coroutine: Any, timeout: float = 15) -> Any:
        """Run ``coroutine`` on the portal's loop (where the worker and phones live)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.portal.loop).result(timeout)

    def call_on_loop(self, function: Any) -> Any:
        """Call a plain function of the phones on their loop (they are not thread-safe)."""

        async def call() -> Any:
            return function()

        return self.run(call())

    def phone(self, user: str, password: str) -> Any:
        """A registered sipcore phone for the account ``user``."""
        from sipcore.tests.phones import Phone

        async def start() -> Phone:
            phone = await Phone.start(
                "udp", user=user, domain=self.domain, password=password, server=self.server
            )
            self.phones.append(phone)
            response = await phone.register()
            assert response.status == 200, response
            return phone

        return self.run(start())


@pytest.fixture
def sip(portal, settings) -> Iterator[LiveSip]:
    """The real SIP worker (Django directory, platform event sink) beside the portal."""
    from sipcore.tests.phones import FAST_TIMERS
    from sipcore.transport import Peer
    from sipcore.worker import SipWorker, WorkerConfig
    from sipplatform.sipworker.directory import DjangoDirectory
    from sipplatform.sipworker.events import PlatformEventSink
    from sipplatform.sipworker.runtime import nonce_secret

    config = WorkerConfig(
        worker_id="browser-test",
        default_domain=settings.SIP_DOMAIN,
        nonce_secret=nonce_secret(settings.SECRET_KEY),
        dialplan_pool_size=1,
        endpoint=FAST_TIMERS,
        register_providers=False,
    )

    async def start() -> tuple[SipWorker, PlatformEventSink, DjangoDirectory, list]:
        directory, events = DjangoDirectory(), PlatformEventSink()
        worker = SipWorker(directory=directory, events=events, config=config)
        return worker, events, directory, await worker.start([("udp", "127.0.0.1", 0)])

    worker, events, directory, bound = asyncio.run_coroutine_threadsafe(
        start(), portal.loop
    ).result(START_SECONDS)
    _, host, port = bound[0]
    live = LiveSip(portal=portal, server=Peer("udp", host, port), domain=settings.SIP_DOMAIN)

    async def stop() -> None:
        await worker.drain(0)
        for phone in live.phones:
            await phone.close()
        await worker.close()
        await events.close()
        await directory.close()

    try:
        yield live
    finally:
        asyncio.run_coroutine_threadsafe(stop(), portal.loop).result(START_SECONDS)
