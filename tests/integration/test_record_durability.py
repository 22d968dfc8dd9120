"""No call detail or transfer audit record lost or doubled while the platform's processes fail
under calls.

A private ``redis-server`` (a port of 21000-21999, append-only file fsynced on every write, so
a stop and start keeps its queues), a real ``celery -A sipplatform worker`` and a real
``manage.py sipworker`` run on pytest-django's PostgreSQL test database. Two sipcore phones
register and alice calls bob again and again, trying a blind transfer (REFER, declined under
``tr=n``) in every call, while, in turn:

1. Redis is stopped: the SIP worker keeps the records in its outbox and sends them when Redis
   is back;
2. the Celery worker is stopped, and while it is away the test database goes down as in a
   PostgreSQL restart (the shared server itself is left alone): the platform's sessions are
   ended with ``pg_terminate_backend`` and new connections refused. The restarted Celery
   worker's tasks fail with ``OperationalError`` and are retried with back-off until the
   database answers again, then written once;
3. Redis is stopped and the SIP worker SIGKILLed with records still in its outbox: the
   restarted worker (same id, same outbox file) delivers them.

At the end every call placed has exactly its two leg records and its REFER exactly one audit
record, no more, no less.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import redis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection, connections
from django.db.models import Q
from psycopg import sql

from sipcore.testing.waiting import wait_until
from sipcore.tests.phones import Phone
from sipcore.transport import Peer
from sipplatform.calls.models import CallDetailRecord, TransferAuditRecord
from sipplatform.customers.services import create_customer
from sipplatform.dialplans.models import Dialplan
from sipplatform.directory.services import create_sip_account, default_domain
from sipplatform.sipworker.outbox import outbox_path
from sipplatform.sipworker.tests.support import free_port, manage_py, wait_for_output
from tests.integration.processes import (
    VENV_BIN,
    platform_env,
    port_is_free,
    stop_process,
    wait_for_port,
)
from tests.integration.test_production_topology import CELERY_WORKER_OPTIONS, PASSWORD

pytestmark = [pytest.mark.real, pytest.mark.django_db(transaction=True)]

REDIS_PORTS = range(21000, 22000)
WORKER_ID = "durable"
LEGS_PER_CALL = 2
START_TIMEOUT = 60
RECORD_TIMEOUT = 30
RETRY_TIMEOUT = 20
APPLICATION_NAME = "record-durability-platform"
"""The platform processes' PostgreSQL sessions carry this name (``PGAPPNAME``)."""


@dataclass
class Platform:
    """The processes under test, each (re)startable, and the calls placed through them."""

    spawn: Callable[..., subprocess.Popen]
    logs: Path
    env: dict[str, str]
    redis_port: int
    sip_port: int
    redis: subprocess.Popen | None = None
    celery: subprocess.Popen | None = None
    sipworker: subprocess.Popen | None = None
    starts: int = 0
    call_ids: list[str] = field(default_factory=list)

    @property
    def outbox(self) -> Path:
        return outbox_path(self.logs / "var", WORKER_ID)

    def log(self, name: str) -> Path:
        self.starts += 1
        return self.logs / f"{self.starts:02d}-{name}.log"

    def start_redis(self) -> None:
        self.redis = self.spawn(
            [
                "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.logs),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ],
            self.env,
            log=self.log("redis"),
        )
        wait_for_port(self.redis_port, self.redis)

    def stop_redis(self) -> None:
        """Stop Redis once the Celery worker holds no message: with kombu 5.7 a worker whose
        broker vanishes in the middle of an acknowledgement dies ("Unrecoverable error")."""
        assert self.redis is not None
        client = redis.Redis(port=self.redis_port)
        try:
            wait_until(
                lambda: not client.llen("celery") and not client.hlen("unacked"), RECORD_TIMEOUT
            )
        finally:
            client.close()
        assert stop_process(self.redis) == 0

    def start_celery(self) -> Path:
        log = self.log("celery")
        self.celery = self.spawn(
            [str(VENV_BIN / "celery"), "-A", "sipplatform", "worker", *CELERY_WORKER_OPTIONS],
            self.env,
            log=log,
        )
        wait_for_output(log, " ready.", self.celery, timeout=START_TIMEOUT)
        return log

    def stop_celery(self) -> None:
        assert self.celery is not None
        stop_process(self.celery)

    def start_sipworker(self) -> None:
        log = self.log("sipworker")
        self.sipworker = self.spawn(
            manage_py(
                "sipworker", "--listen", f"udp:127.0.0.1:{self.sip_port}", "--worker-id", WORKER_ID
            ),
            self.env,
            log=log,
        )
        wait_for_output(log, "listening on", self.sipworker, timeout=START_TIMEOUT)

    def kill_sipworker(self) -> None:
        assert self.sipworker is not None
        assert stop_process(self.sipworker, signal.SIGKILL) == -signal.SIGKILL

    def outbox_rows(self) -> int:
        with sqlite3.connect(self.outbox) as outbox:
            return outbox.execute("SELECT count(*) FROM record").fetchone()[0]


def private_redis_port() -> int:
    for port in REDIS_PORTS:
        if port_is_free(port):
            return port
    raise RuntimeError(f"no free port in {REDIS_PORTS.start}-{REDIS_PORTS.stop - 1}")


@pytest.fixture
def provisioned() -> str:
    """A customer whose alice dials the called local account, and bob; the SIP domain."""
    acme = create_customer("Acme")
    outgoing = Dialplan.objects.create(customer=acme, name="out", script='sys.Dial("${dst}@local")')
    create_sip_account(acme, "alice", password=PASSWORD, outgoing_dialplan=outgoing)
    create_sip_account(acme, "bob", password=PASSWORD)
    return default_domain().name


@pytest.fixture
def platform(spawn, tmp_path, postgres_database_url, provisioned) -> Iterator[Platform]:
    if subprocess.run(["which", "redis-server"], capture_output=True).returncode:
        pytest.skip("redis-server is not installed")
    redis_port = private_redis_port()
    env = platform_env(
        DATABASE_URL=postgres_database_url,
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        SECRET_KEY=settings.SECRET_KEY,
        SIP_DOMAIN=provisioned,
        SIPPLATFORM_VAR_DIR=str(tmp_path / "var"),
        PGAPPNAME=APPLICATION_NAME,
    )
    platform = Platform(spawn, tmp_path, env, redis_port, free_port())
    platform.start_redis()
    platform.start_celery()
    platform.start_sipworker()
    yield platform
    restart_database(running=True)


def restart_database(running: bool) -> None:
    """Stop the test database as a restarting PostgreSQL does, or start it again.

    Stopping refuses new connections and ends every session of the platform's processes
    (the SIP worker's and the Celery worker's: their ``application_name``); starting takes
    connections again. Both are said from the server's maintenance database, so nobody else's
    database is touched.
    """
    database = connection.settings_dict
    name = sql.Identifier(database["NAME"])
    with psycopg.connect(
        host=database["HOST"] or "127.0.0.1",
        port=database["PORT"] or 5432,
        user=database["USER"],
        password=database["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as maintenance:
        allowed = sql.SQL("true" if running else "false")
        maintenance.execute(
            sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}").format(name, allowed)
        )
        if not running:
            maintenance.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND application_name = %s",
                [database["NAME"], APPLICATION_NAME],
            )


class Phones:
    """Alice and bob, registered with the SIP worker under test."""

    def __init__(self, platform: Platform, domain: str) -> None:
        self.platform = platform
        self.domain = domain
        self.alice: Phone
        self.bob: Phone

    async def start(self) -> None:
        server = Peer("udp", "127.0.0.1", self.platform.sip_port)
        self.alice = await Phone.start(
            user="alice", domain=self.domain, password=PASSWORD, server=server
        )
        self.bob = await Phone.start(
            user="bob", domain=self.domain, password=PASSWORD, server=server
        )
        await self.register()

    async def register(self) -> None:
        for phone in (self.alice, self.bob):
            assert (await phone.register()).status == 200

    async def calls(self, count: int) -> None:
        """Alice calls bob ``count`` times; bob answers, alice tries a blind transfer (declined
        under the default ``tr=n``, so it leaves one audit record and the call up) and hangs up."""
        for _ in range(count):
            call = await self.alice.call(f"sip:bob@{self.domain}")
            assert call.final.status == 200
            refer_to = [("Refer-To", f"<sip:carol@{self.domain}>")]
            assert (await call.request("REFER", headers=refer_to)).status == 603
            assert (await call.bye()).status == 200
            self.platform.call_ids.append(call.invite.call_id)

    async def close(self) -> None:
        await self.alice.close()
        await self.bob.close()


def legs_of(call_ids: list[str]) -> dict[str, int]:
    """How many leg records each call has, once every leg has been hung up."""
    try:
        counts = {}
        for call_id in call_ids:
            records = CallDetailRecord.objects.filter(
                Q(call_id=call_id) | Q(bridged_call_id=call_id)
            )
            counts[call_id] = records.filter(hungup_at__isnull=False).count()
        return counts
    finally:
        connections.close_all()


def audits_of(call_ids: list[str]) -> dict[str, int]:
    """How many transfer audit records each call's REFER left."""
    try:
        return {
            call_id: TransferAuditRecord.objects.filter(call_id=call_id).count()
            for call_id in call_ids
        }
    finally:
        connections.close_all()


def every_call_recorded(call_ids: list[str]) -> bool:
    return all(count == LEGS_PER_CALL for count in legs_of(call_ids).values()) and all(
        count == 1 for count in audits_of(call_ids).values()
    )


def total_records() -> tuple[int, int]:
    """Call detail and transfer audit records in the database."""
    try:
        return CallDetailRecord.objects.count(), TransferAuditRecord.objects.count()
    finally:
        connections.close_all()


async def test_no_record_is_lost_or_doubled_when_redis_celery_postgres_and_the_worker_fail(
    platform, provisioned
):
    phones = Phones(platform, provisioned)
    await phones.start()
    try:
        await phones.calls(2)
        await sync_to_async(wait_until)(
            lambda: every_call_recorded(platform.call_ids), RECORD_TIMEOUT
        )

        # 1. Redis down while calls run: the records wait in the outbox.
        await sync_to_async(platform.stop_redis)()
        await phones.calls(2)
        await sync_to_async(wait_until)(lambda: platform.outbox_rows() >= 2 * LEGS_PER_CALL, 5)
        platform.start_redis()
        await phones.calls(1)

        # 2. Celery down, then PostgreSQL "restarting" (sessions ended, connections refused)
        #    when it comes back: its tasks are retried until the database answers.
        platform.stop_celery()
        await phones.calls(2)
        await sync_to_async(restart_database)(False)
        celery_log = platform.start_celery()
        await sync_to_async(wait_for_output)(
            celery_log, "Retry in", platform.celery, timeout=RETRY_TIMEOUT
        )
        await sync_to_async(restart_database)(True)
        await sync_to_async(wait_until)(
            lambda: every_call_recorded(platform.call_ids), RECORD_TIMEOUT
        )

        # 3. Redis down and the SIP worker SIGKILLed with records in its outbox.
        await sync_to_async(platform.stop_redis)()
        await phones.calls(2)
        await sync_to_async(wait_until)(lambda: platform.outbox_rows() >= 2 * LEGS_PER_CALL, 5)
        platform.kill_sipworker()
        platform.start_redis()
        platform.start_sipworker()
        await phones.register()
        await phones.calls(1)

        await sync_to_async(wait_until)(
            lambda: every_call_recorded(platform.call_ids), RECORD_TIMEOUT
        )
    finally:
        await phones.close()

    assert len(set(platform.call_ids)) == 10
    assert set((await sync_to_async(legs_of)(platform.call_ids)).values()) == {LEGS_PER_CALL}
    assert set((await sync_to_async(audits_of)(platform.call_ids)).values()) == {1}
    calls = len(platform.call_ids)
    assert await sync_to_async(total_records)() == (LEGS_PER_CALL * calls, calls)
    assert platform.outbox_rows() == 0
