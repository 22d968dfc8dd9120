"""The Celery path end to end: a real ``celery worker`` process, Redis as broker, PostgreSQL.

The test process plays the SIP worker and sends ``record_call_detail`` through the test Redis;
the worker, started here on pytest-django's PostgreSQL test database, writes the record. The
task is idempotent: the same payload delivered twice still leaves one row.
"""

import time
import uuid
from datetime import UTC, datetime

import pytest
import redis

from sipplatform.calls.models import CallDetailRecord
from sipplatform.calls.services import call_detail_payload
from sipplatform.calls.tasks import record_call_detail
from sipplatform.celery import app as celery_app
from tests.integration.processes import VENV_BIN, platform_env

pytestmark = [pytest.mark.real, pytest.mark.django_db(transaction=True)]

WORKER_START_TIMEOUT = 60
RECORD_TIMEOUT = 30


@pytest.fixture
def queue(test_redis_url) -> str:
    """A queue of this test alone, so a teammate's worker on the same Redis never takes ours."""
    name = f"sipplatform-test-{uuid.uuid4().hex[:12]}"
    yield name
    # The queue and the binding kombu keeps for it would otherwise stay in Redis.
    redis.Redis.from_url(test_redis_url).delete(name, f"_kombu.binding.{name}")


@pytest.fixture
def celery_worker(spawn, tmp_path, test_redis_url, postgres_database_url, queue) -> None:
    log = tmp_path / "celery-worker.log"
    env = platform_env(DATABASE_URL=postgres_database_url, REDIS_URL=test_redis_url)
    worker = spawn(
        [
            str(VENV_BIN / "celery"),
            "-A",
            "sipplatform",
            "worker",
            "--pool",
            "solo",
            "--queues",
            queue,
            "--hostname",
            f"{queue}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "INFO",
        ],
        env,
        log=log,
    )
    deadline = time.monotonic() + WORKER_START_TIMEOUT
    while " ready." not in log.read_text():
        if worker.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"the Celery worker did not start:\n{log.read_text()}")
        time.sleep(0.2)


@pytest.fixture
def send(test_redis_url, queue):
    """``record_call_detail`` sent through the test Redis, as a process with REDIS_URL sends it."""
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    with celery_app.connection_for_write(test_redis_url) as connection:

        def send_payload(payload: dict) -> None:
            record_call_detail.apply_async(args=[payload], queue=queue, connection=connection)

        yield send_payload
    celery_app.conf.task_always_eager = eager


def wait_for_record(leg_id: str) -> CallDetailRecord:
    deadline = time.monotonic() + RECORD_TIMEOUT
    while time.monotonic() < deadline:
        record = CallDetailRecord.objects.filter(leg_id=leg_id).first()
        if record is not None:
            return record
        time.sleep(0.2)
    raise AssertionError(f"no call detail record {leg_id} within {RECORD_TIMEOUT} s")


def payload(leg_id: str) -> dict:
    return call_detail_payload(
        leg_id=leg_id,
        call_id=f"{leg_id}@127.0.0.1",
        direction="out",
        created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        from_header="<sip:alice@127.0.0.1>",
        to_header="<sip:bob@127.0.0.1>",
    )


def test_the_worker_writes_a_call_detail_record_once(celery_worker, send):
    send(payload("leg-1"))
    record = wait_for_record("leg-1")
    assert record.call_id == "leg-1@127.0.0.1"
    assert record.created_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    send(payload("leg-1"))
    # One solo worker on one queue runs tasks in order: once the next task's record exists,
    # the duplicate before it has been handled.
    send(payload("leg-2"))
    wait_for_record("leg-2")
    assert CallDetailRecord.objects.filter(leg_id="leg-1").count() == 1
