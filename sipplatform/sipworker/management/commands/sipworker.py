"""``manage.py sipworker``: the SIP worker as a process of its own (the production topology).

Listens on ``--listen`` (repeatable; default ``SIP_LISTEN``), prints each bound address, and
runs until SIGTERM or SIGINT; then it stops taking new calls, lets active calls finish for up
to ``--grace`` seconds, ends the rest with BYE and exits 0. Runs on uvloop when installed.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Sequence
from dataclasses import fields

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from sipcore.worker import WorkerConfig
from sipplatform.envconfig import ListenAddress, parse_listen_addresses
from sipplatform.sipworker import eventloop
from sipplatform.sipworker.runtime import (
    BoundAddress,
    format_address,
    run_worker,
    worker_config,
)

DEFAULT_DRAIN_GRACE = next(f.default for f in fields(WorkerConfig) if f.name == "drain_grace")


def listen_option(text: str) -> tuple[ListenAddress, ...]:
    try:
        return parse_listen_addresses(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def grace_option(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= seconds <= 3600:
        raise argparse.ArgumentTypeError(f"{text!r}: the grace period is 0 to 3600 seconds")
    return seconds


class Command(BaseCommand):
    help = (
        "Run the SIP worker: registrar, B2BUA, dialplans and provider registrations, reading "
        "the platform's database. SIGTERM drains active calls, then exits."
    )
    # The worker serves no URLs, templates or admin pages: a mistake in the portal's
    # configuration (which `manage.py check` reports) must not keep phones from calling.
    requires_system_checks = []

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--listen",
            type=listen_option,
            action="append",
            metavar="TRANSPORT:HOST:PORT",
            help="SIP socket, repeatable: udp:127.0.0.1:5060, tcp:[::1]:5060 (default: SIP_LISTEN)",
        )
        parser.add_argument(
            "--grace",
            type=grace_option,
            metavar="SECONDS",
            help="on SIGTERM, how long active calls may go on before they are ended with BYE "
            f"(default {DEFAULT_DRAIN_GRACE:g})",
        )
        parser.add_argument(
            "--worker-id",
            metavar="ID",
            help="this worker's name in bindings and records (default: HOST-PID)",
        )

    def handle(self, *args, listen, grace, worker_id, **options) -> None:
        addresses = tuple(a for group in listen for a in group) if listen else settings.SIP_LISTEN
        if worker_id is not None and not 0 < len(worker_id) <= 64:
            raise CommandError("--worker-id must be 1 to 64 characters")
        config = worker_config(worker_id=worker_id, drain_grace=grace)
        try:
            eventloop.runner()(self.serve(addresses, config))
        except* OSError as errors:
            raise CommandError(f"cannot listen for SIP: {errors.exceptions[0]}") from None
        self.stdout.write(f"SIP worker {config.worker_id} stopped.")

    async def serve(self, addresses: Sequence[ListenAddress], config: WorkerConfig) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stopping, stop, signum)
        try:
            await run_worker(
                addresses, stop, config=config, on_started=lambda b: self.announce(config, b)
            )
        finally:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)

    def announce(self, config: WorkerConfig, bound: list[BoundAddress]) -> None:
        for address in bound:
            self.stdout.write(
                f"SIP worker {config.worker_id} listening on {format_address(address)}"
            )
        self.stdout.flush()

    def stopping(self, stop: asyncio.Event, signum: int) -> None:
        if stop.is_set():
            return
        self.stdout.write(f"{signal.Signals(signum).name}: draining calls, then stopping.")
        self.stdout.flush()
        stop.set()
