"""``manage.py runplatform``: the whole platform in one process, for a laptop or a demo.

Migrates, seeds a demo tenant on an empty database (see :mod:`webui.demo`), prints how to sign
in and how to register two phones, then serves the ASGI app (portal and monitor socket) with
Hypercorn on one asyncio event loop, the loop the SIP worker shares. SIGINT and SIGTERM stop
it cleanly. With the default settings it needs nothing else: SQLite, the in-memory channel
layer and Celery tasks executed in-process.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import signal
import socket
from collections.abc import Callable, Sequence
from itertools import chain
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from hypercorn.asyncio import serve
from hypercorn.config import Config

from sipplatform.envconfig import ListenAddress, parse_listen_addresses
from sipplatform.sipworker.runtime import BoundAddress, run_worker, worker_config
from webui.demo import DemoState, credentials_path, ensure_demo
from webui.embedded import embedded_app

DEFAULT_HTTP = "127.0.0.1:8000"
SHUTDOWN_GRACE_SECONDS = 5


def parse_http_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (IPv6 as ``[::1]:8000``) for the portal; argparse reports a bad one."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    else:
        host, _, port_text = text.rpartition(":")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host != "localhost":
            raise argparse.ArgumentTypeError(
                f"{text!r}: the host must be an IP address or localhost"
            ) from None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r}: the port must be a number from 1 to 65535")
    return host, int(port_text)


def parse_listen_option(text: str) -> tuple[ListenAddress, ...]:
    try:
        return parse_listen_addresses(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def http_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def registrar_uri(address: ListenAddress) -> str:
    host = f"[{address.host}]" if ":" in address.host else address.host
    return f"sip:{host}:{address.port};transport={address.transport}"


def bind_portal_socket(host: str, port: int) -> int:
    """Bind the portal's TCP socket and return its descriptor for Hypercorn (``fd://N``).

    Bound here, before the banner, so a busy port is reported as a plain error instead of
    after the logins were printed as if the portal were up.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    portal = socket.socket(family, socket.SOCK_STREAM)
    try:
        portal.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        portal.bind((host, port))
    except OSError as exc:
        portal.close()
        raise CommandError(f"cannot serve the portal on {http_url(host, port)}: {exc}") from None
    return portal.detach()


class Command(BaseCommand):
    help = (
        "Run the platform in this one process: migrate, seed a demo on an empty database, print "
        "the logins, and serve the portal (and the SIP worker) on one event loop until Ctrl-C."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--http",
            type=parse_http_address,
            default=parse_http_address(DEFAULT_HTTP),
            metavar="HOST:PORT",
            help=f"portal address (default {DEFAULT_HTTP})",
        )
        parser.add_argument(
            "--listen",
            type=parse_listen_option,
            action="append",
            metavar="TRANSPORT:HOST:PORT",
            help="SIP socket, repeatable: udp:127.0.0.1:5060, tcp:[::1]:5060 "
            "(default: SIP_LISTEN, udp and tcp on 127.0.0.1:5060)",
        )

    def handle(
        self,
        *args: Any,
        http: tuple[str, int],
        listen: list[tuple[ListenAddress, ...]] | None,
        **options: Any,
    ) -> None:
        sip_listen = tuple(chain.from_iterable(listen)) if listen else tuple(settings.SIP_LISTEN)
        self.stdout.write("Migrating the database...")
        call_command("migrate", interactive=False, verbosity=0)
        try:
            state = ensure_demo(credentials_path())
        except OSError as exc:
            raise CommandError(f"cannot keep the demo credentials: {exc}") from None
        portal_fd = bind_portal_socket(*http)
        try:
            asyncio.run(
                self.serve(portal_fd, sip_listen, lambda sip: self.print_banner(http, sip, state))
            )
        except* OSError as errors:
            raise CommandError(f"cannot listen for SIP: {errors.exceptions[0]}") from None
        self.stdout.write("Stopped.")

    def print_banner(
        self, http: tuple[str, int], sip_bound: Sequence[BoundAddress], state: DemoState
    ) -> None:
        """Everything a person needs to use the platform, printed once the sockets are bound."""
        write = self.stdout.write
        write("")
        write(self.style.SUCCESS("SIP platform, embedded: everything in this one process"))
        write(f"  Portal:       {http_url(*http)}")
        credentials = state.credentials
        if credentials is None:
            write(f"  Demo login:   none ({state.note})")
        else:
            origin = "created now" if state.created else "kept from the first start"
            write(f"  Customer:     {credentials.customer} ({origin}, in {credentials_path()})")
            write(f"  Portal login: username: {credentials.portal_username}")
            write(f"                password: {credentials.portal_password}")
            write("  Phones (register a softphone with these):")
            for phone in credentials.phones:
                write(
                    f"    {phone.username}@{phone.domain}  username: {phone.username}  "
                    f"password: {phone.password}  domain: {phone.domain}"
                )
        write("  SIP registrar (outbound proxy for the phones):")
        for transport, host, port in sip_bound:
            write(f"    {registrar_uri(ListenAddress(transport=transport, host=host, port=port))}")
        write("Press Ctrl-C to stop.")
        self.stdout.flush()

    async def serve(
        self,
        portal_fd: int,
        sip_listen: Sequence[ListenAddress],
        on_started: Callable[[list[BoundAddress]], None],
    ) -> None:
        """The portal and the SIP worker on this one event loop, until SIGINT or SIGTERM."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.stopping, stop, signum)
        config = Config()
        config.bind = [f"fd://{portal_fd}"]
        config.graceful_timeout = SHUTDOWN_GRACE_SECONDS
        # Through Django's LOGGING (one handler on the root logger) instead of its own.
        config.errorlog = logging.getLogger("hypercorn.error")
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(serve(embedded_app, config, shutdown_trigger=stop.wait))
            tasks.create_task(self.run_sip_worker(sip_listen, stop, on_started))

    async def run_sip_worker(
        self,
        sip_listen: Sequence[ListenAddress],
        stop: asyncio.Event,
        on_started: Callable[[list[BoundAddress]], None],
    ) -> None:
        """The SIP worker, as ``manage.py sipworker`` runs it, sharing the portal's loop.

        On stop, active calls get the same short grace as open web requests.
        """
        config = worker_config(drain_grace=SHUTDOWN_GRACE_SECONDS)
        await run_worker(sip_listen, stop, config=config, on_started=on_started)

    def stopping(self, stop: asyncio.Event, signum: int) -> None:
        if not stop.is_set():
            self.stdout.write(
                f"{signal.Signals(signum).name}: stopping (calls get "
                f"{SHUTDOWN_GRACE_SECONDS} s to end)."
            )
            self.stdout.flush()
            stop.set()
