"""The production topology end to end: web, SIP worker and Celery worker as separate processes.

``daphne sipplatform.asgi:application``, ``manage.py sipworker`` and ``celery -A sipplatform
worker`` run as subprocesses on pytest-django's PostgreSQL test database and a Redis database
of this test's own (``TEST_REDIS_URL`` with database 14, flushed before and after). Two
sipcore phones register with digest and alice calls bob through the worker; bob answers and
alice hangs up. Then the call detail records are in PostgreSQL, written by the Celery worker,
and the customer's portal user, watching the monitor over a real WebSocket with the session
cookie, saw ``call.new``, ``call.ringing``, ``call.answered`` and ``call.ended`` in order.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections
from django.test import Client
from websockets.asyncio.client import ClientConnection, connect

from sipcore.tests.phones import Phone
from sipcore.transport import Peer
from sipplatform.calls.models import CallDetailRecord
from sipplatform.customers.models import User
from sipplatform.customers.services import create_customer
from sipplatform.dialplans.models import Dialplan
from sipplatform.directory.services import create_sip_account, default_domain
from sipplatform.sipworker.tests.support import free_port, manage_py, wait_for_output
from tests.integration.processes import VENV_BIN, platform_env, wait_for_port

pytestmark = [pytest.mark.real, pytest.mark.django_db(transaction=True)]

REDIS_DATABASE = 14
PASSWORD = "Sesame-Open-42"
START_TIMEOUT = 60
EVENT_TIMEOUT = 15
RECORD_TIMEOUT = 30
ASGI_APPLICATION = "sipplatform.asgi:application"
CELERY_WORKER_OPTIONS = [
    "--pool=solo",
    "--without-gossip",
    "--without-mingle",
    "--without-heartbeat",
    "--loglevel=INFO",
]
CALL_EVENTS = ["call.new", "call.ringing", "call.answered", "call.ended"]


@dataclass
class Platform:
    http_port: int
    sip: Peer
    domain: str
    customer_id: int
    session_cookie: str


@pytest.fixture
def redis_url(test_redis_url):
    """The test Redis server, database 14: ours alone, empty at the start and at the end."""
    parts = urlsplit(test_redis_url)
    url = urlunsplit(parts._replace(path=f"/{REDIS_DATABASE}"))
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def provisioned() -> tuple[str, int, str]:
    """A customer with a portal user (signed in: its session cookie) and two SIP accounts.

    Alice's outgoing dialplan dials the called local account; bob has none, so his phone rings.
    """
    acme = create_customer("Acme")
    User.objects.create_user("acme-admin", password="x-Secret-1", customer=acme)
    outgoing = Dialplan.objects.create(customer=acme, name="out", script='sys.Dial("${dst}@local")')
    create_sip_account(acme, "alice", password=PASSWORD, outgoing_dialplan=outgoing)
    create_sip_account(acme, "bob", password=PASSWORD)
    client = Client()
    client.force_login(User.objects.get(username="acme-admin"))
    return default_domain().name, acme.pk, client.cookies[settings.SESSION_COOKIE_NAME].value


@pytest.fixture
def platform(spawn, tmp_path, redis_url, postgres_database_url, provisioned) -> Platform:
    domain, customer_id, cookie = provisioned
    env = platform_env(
        DATABASE_URL=postgres_database_url,
        REDIS_URL=redis_url,
        SECRET_KEY=settings.SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1",
        SIP_DOMAIN=domain,
    )
    http_port = free_port()
    sip_port = free_port(http_port)
    daphne = spawn(
        [str(VENV_BIN / "daphne"), "-b", "127.0.0.1", "-p", str(http_port), ASGI_APPLICATION],
        env,
        log=tmp_path / "daphne.log",
    )
    celery_log = tmp_path / "celery.log"
    celery = spawn(
        [str(VENV_BIN / "celery"), "-A", "sipplatform", "worker", *CELERY_WORKER_OPTIONS],
        env,
        log=celery_log,
    )
    worker_log = tmp_path / "sipworker.log"
    sipworker = spawn(
        manage_py("sipworker", "--listen", f"udp:127.0.0.1:{sip_port}", "--worker-id", "topo"),
        env,
        log=worker_log,
    )
    wait_for_port(http_port, daphne, timeout=START_TIMEOUT)
    wait_for_output(celery_log, " ready.", celery, timeout=START_TIMEOUT)
    wait_for_output(worker_log, "listening on", sipworker, timeout=START_TIMEOUT)
    return Platform(http_port, Peer("udp", "127.0.0.1", sip_port), domain, customer_id, cookie)


async def open_monitor(platform: Platform) -> ClientConnection:
    return await connect(
        f"ws://127.0.0.1:{platform.http_port}/ws/monitor/",
        origin=f"http://127.0.0.1:{platform.http_port}",
        additional_headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={platform.session_cookie}"},
        open_timeout=EVENT_TIMEOUT,
    )


async def call_events_until_ended(monitor: ClientConnection) -> list[dict]:
    """The monitor's ``call.*`` events up to and including ``call.ended``."""
    received: list[dict] = []
    async with asyncio.timeout(EVENT_TIMEOUT):
        while not received or received[-1]["type"] != "call.ended":
            event = json.loads(await monitor.recv())
            if event["type"].startswith("call."):
                received.append(event)
    return received


def wait_for_answered_records(call_id: str) -> list[CallDetailRecord]:
    """The call's answered and hung-up leg records, once the Celery worker has written them."""
    try:
        deadline = time.monotonic() + RECORD_TIMEOUT
        while time.monotonic() < deadline:
            records = list(CallDetailRecord.objects.filter(answered_status=200))
            mine = [r for r in records if call_id in (r.call_id, r.bridged_call_id)]
            if mine and all(r.hungup_at is not None for r in mine):
                return records
            time.sleep(0.2)
        raise AssertionError(f"no complete records of {call_id} within {RECORD_TIMEOUT} s")
    finally:
        connections.close_all()


async def test_a_real_call_is_recorded_by_celery_and_streamed_to_the_monitor(platform):
    phones: list[Phone] = []
    try:
        async with await open_monitor(platform) as monitor:
            ready = json.loads(await asyncio.wait_for(monitor.recv(), EVENT_TIMEOUT))
            assert ready == {"type": "monitor.ready", "scope": f"customer.{platform.customer_id}"}
            for user in ("alice", "bob"):
                phone = await Phone.start(
                    user=user, domain=platform.domain, password=PASSWORD, server=platform.sip
                )
                phones.append(phone)
                assert (await phone.register()).status == 200
            alice, _ = phones

            call = await alice.call(f"sip:bob@{platform.domain}")
            assert call.final.status == 200
            assert (await call.bye()).status == 200

            events = await call_events_until_ended(monitor)
    finally:
        for phone in phones:
            await phone.close()

    kinds = [event["type"] for event in events]
    assert [kind for kind in kinds if kind in CALL_EVENTS] == CALL_EVENTS
    assert {event["call_id"] for event in events} == {call.invite.call_id}
    records = await sync_to_async(wait_for_answered_records)(call.invite.call_id)
    assert all(r.customer_id == platform.customer_id for r in records)
    assert all(r.worker_id == "topo" for r in records)
