"""End to end: a real ``celery worker`` process takes the task from Redis and the record
appears in PostgreSQL."""

import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from celery import Celery
from django.db import connection

from sipcore.testing import wait_until
from sipplatform.calls import services
from sipplatform.calls.models import CallDetailRecord

REPO = Path(__file__).resolve().parents[3]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_answers() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def worker_database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def celery_worker_queue(transactional_db):
    """A worker on a queue of its own (other suites may share this Redis); stopped by PID."""
    queue = f"test-{uuid.uuid4().hex}"
    env = os.environ | {"REDIS_URL": REDIS_URL, "DATABASE_URL": worker_database_url()}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "sipplatform",
            "worker",
            "-P",
            "solo",
            "-Q",
            queue,
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "WARNING",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    yield queue
    worker.terminate()
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
    worker.stderr.close()


@pytest.mark.real
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL: set DATABASE_URL to postgres://"
)
@pytest.mark.skipif(not redis_answers(), reason=f"no Redis answering at {REDIS_URL}")
def test_a_real_worker_writes_the_record_once(celery_worker_queue):
    payload = services.call_detail_payload(
        leg_id="e2e-leg", call_id="e2e@192.0.2.1", direction="in", created_at=datetime.now(UTC)
    )
    sender = Celery(broker=REDIS_URL)
    for _ in range(2):
        sender.send_task(
            "sipplatform.calls.tasks.record_call_detail", args=[payload], queue=celery_worker_queue
        )

    wait_until(CallDetailRecord.objects.exists, timeout=60, interval=0.2)
    time.sleep(0.5)  # room for the duplicate task to write a second row, were it to
    sender.close()

    assert list(CallDetailRecord.objects.values_list("leg_id", flat=True)) == ["e2e-leg"]
