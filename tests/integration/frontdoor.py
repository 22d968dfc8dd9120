"""Running Kamailio with ``deploy/kamailio/kamailio.cfg`` in front of SIP workers, for tests.

Ports come from the scale-out suite's range, 25000-25999. Kamailio runs in the foreground
(``-DD``) with its runtime directory, control socket and dispatcher list in the test's
temporary directory, probing the workers every second; ``kamcmd`` reads its dispatcher state.
``start_sip_workers`` runs ``manage.py sipworker`` processes to stand behind it;
``start_cluster`` puts the two together on the platform's PostgreSQL and Redis, and the other
helpers give those tests their Redis database, accounts and phones.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from django.conf import settings

from sipcore import testing
from sipcore.tests.phones import Phone
from sipcore.transport import Peer
from sipplatform.customers.models import Customer
from sipplatform.customers.services import create_customer
from sipplatform.dialplans.models import Dialplan
from sipplatform.directory.services import create_sip_account
from sipplatform.sipworker.tests.support import manage_py, wait_for_output
from tests.integration.processes import REPO, platform_env

PORT_RANGE = range(25000, 26000)
DEPLOY = REPO / "deploy" / "kamailio"
KAMAILIO_CONFIG = DEPLOY / "kamailio.cfg"
PING_INTERVAL = 1
FR_TIMER_MS = 2000
WORKER_START_TIMEOUT = 60


def free_port(*taken: int) -> int:
    """A port of this suite's range free for UDP and TCP; ``taken`` are handed out already.

    The range is read at each call: a suite may patch ``PORT_RANGE`` to keep to its own."""
    return testing.free_port(PORT_RANGE, *taken)


def kamailio_missing() -> str | None:
    """Why Kamailio cannot run here, or None."""
    for program in ("kamailio", "kamcmd"):
        if shutil.which(program) is None:
            return f"{program} is not installed (apt-get install -y kamailio)"
    return None


def require_kamailio() -> None:
    """Skip the test where Kamailio cannot run."""
    reason = kamailio_missing()
    if reason:
        pytest.skip(reason)


@dataclass
class FrontDoor:
    process: subprocess.Popen
    port: int
    control: str
    log: Path

    def dispatcher_flags(self) -> dict[int, str]:
        """Each worker port's dispatcher flags: ``AP`` active, ``IP`` probed out."""
        output = subprocess.run(
            ["kamcmd", "-s", self.control, "dispatcher.list"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout
        flags: dict[int, str] = {}
        port = None
        for line in output.splitlines():
            line = line.strip()
            if line.startswith("URI:"):
                port = int(line.rsplit(":", 1)[1])
            elif line.startswith("FLAGS:") and port is not None:
                flags[port] = line.split(":", 1)[1].strip()
        return flags

    def wait_for_flags(self, port: int, wanted: str, timeout: float = 10.0) -> float:
        """Seconds until worker ``port`` shows ``wanted`` flags; fails after ``timeout``."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.dispatcher_flags().get(port) == wanted:
                return time.monotonic() - started
            time.sleep(0.1)
        raise AssertionError(f"worker {port} not {wanted} within {timeout} s: {self.log_text()}")

    def log_text(self) -> str:
        return self.log.read_text()[-3000:]


def start_front_door(
    spawn: Callable[..., subprocess.Popen],
    directory: Path,
    worker_ports: Sequence[int],
    *taken: int,
) -> FrontDoor:
    """Kamailio on 127.0.0.1 (UDP) dispatching to the workers on ``worker_ports``.

    Started as in the container: ``render-dispatcher.sh`` writes the dispatcher list from
    the shipped template, then becomes Kamailio.
    """
    port = free_port(*worker_ports, *taken)
    run = directory / "kamailio-run"
    run.mkdir(exist_ok=True)
    listing = directory / "dispatcher.list"
    control = f"unix:{run / 'ctl'}"
    log = directory / "kamailio.log"
    process = spawn(
        [
            str(DEPLOY / "render-dispatcher.sh"),
            "kamailio",
            *("-f", str(KAMAILIO_CONFIG), "-DD", "-E", "-Y", str(run)),
            *("-A", f"SIP_LISTEN=udp:127.0.0.1:{port}", "-A", "NO_TCP"),
            *("-A", f'DISPATCHER_LIST="{listing}"', "-A", f'CTL_SOCKET="{control}"'),
            *("-A", f"DS_PING_INTERVAL={PING_INTERVAL}", "-A", f"FR_TIMER={FR_TIMER_MS}"),
        ],
        {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "DISPATCHER_TEMPLATE": str(DEPLOY / "dispatcher.list.template"),
            "DISPATCHER_LIST": str(listing),
            "SIP_WORKERS": " ".join(f"127.0.0.1:{p}" for p in worker_ports),
        },
        log=log,
    )
    front = FrontDoor(process, port, control, log)
    deadline = time.monotonic() + 15
    while True:
        if process.poll() is not None:
            raise AssertionError(f"kamailio exited with {process.returncode}: {front.log_text()}")
        try:
            if len(front.dispatcher_flags()) == len(worker_ports):
                return front
        except subprocess.CalledProcessError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"kamailio did not start: {front.log_text()}")
        time.sleep(0.1)


def start_sip_workers(
    spawn: Callable[..., subprocess.Popen],
    directory: Path,
    env: dict[str, str],
    count: int,
    *taken: int,
    options: Sequence[str] = (),
) -> tuple[dict[int, str], dict[str, subprocess.Popen]]:
    """``count`` SIP workers ``sip-1``, ``sip-2``, ... on 127.0.0.1 (UDP) with the command line
    ``options``, started at once and listening on return: worker ids by port, and processes
    by worker id."""
    ports: dict[int, str] = {}
    workers: dict[str, subprocess.Popen] = {}
    for number in range(1, count + 1):
        port = free_port(*ports, *taken)
        worker_id = f"sip-{number}"
        ports[port] = worker_id
        workers[worker_id] = spawn(
            manage_py(
                "sipworker", "--listen", f"udp:127.0.0.1:{port}", "--worker-id", worker_id, *options
            ),
            env,
            log=directory / f"{worker_id}.log",
        )
    for worker_id, process in workers.items():
        log = directory / f"{worker_id}.log"
        wait_for_output(log, "listening on", process, timeout=WORKER_START_TIMEOUT)
    return ports, workers


@dataclass
class Cluster:
    door: FrontDoor
    domain: str
    workers: dict[str, subprocess.Popen]
    ports: dict[int, str]
    """Worker id by SIP port."""

    @property
    def front(self) -> Peer:
        return Peer("udp", "127.0.0.1", self.door.port)


def start_cluster(
    spawn: Callable[..., subprocess.Popen],
    directory: Path,
    count: int,
    database_url: str,
    redis_url: str,
    domain: str,
    *,
    options: Sequence[str] = (),
    **environment: str,
) -> Cluster:
    """Kamailio in front of ``count`` SIP workers (command line ``options``) serving ``domain``
    on PostgreSQL ``database_url`` and Redis ``redis_url``, with the platform settings
    ``environment`` besides; skips the test where Kamailio cannot run."""
    require_kamailio()
    env = platform_env(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SECRET_KEY=settings.SECRET_KEY,
        SIP_DOMAIN=domain,
        **environment,
    )
    ports, workers = start_sip_workers(spawn, directory, env, count, options=options)
    door = start_front_door(spawn, directory, list(ports))
    return Cluster(door, domain, workers, ports)


@contextmanager
def flushed_redis_database(test_redis_url: str, database: int) -> Iterator[str]:
    """``test_redis_url`` switched to Redis database ``database``, flushed before and after."""
    url = urlunsplit(urlsplit(test_redis_url)._replace(path=f"/{database}"))
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


def customer_calling_locally(
    users: Sequence[str], password: str, **customer_fields: object
) -> Customer:
    """Customer "Acme" with an account for each of ``users``; each may call any local account
    (its outgoing dialplan ``out``)."""
    acme = create_customer("Acme", **customer_fields)
    outgoing = Dialplan.objects.create(customer=acme, name="out", script='sys.Dial("${dst}@local")')
    for user in users:
        create_sip_account(acme, user, password=password, outgoing_dialplan=outgoing)
    return acme


@asynccontextmanager
async def phones_through(
    cluster: Cluster, users: Sequence[str], password: str
) -> AsyncIterator[dict[str, Phone]]:
    """A test phone for each of ``users`` with the front door as its server, by user; all
    closed at the end."""
    started: dict[str, Phone] = {}
    try:
        for user in users:
            started[user] = await Phone.start(
                user=user, domain=cluster.domain, password=password, server=cluster.front
            )
        yield started
    finally:
        for phone in started.values():
            await phone.close()
