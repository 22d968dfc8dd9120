"""Fixtures for tests that run the platform's production processes as real subprocesses."""

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.integration.processes import REPO, stop_process


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen]]:
    """Start subprocesses in the repository, output to a log file; all stopped at the end."""
    started: list[subprocess.Popen] = []

    def start(
        argv: list[str], env: dict[str, str], log: Path, stdin: int = subprocess.DEVNULL
    ) -> subprocess.Popen:
        with log.open("w") as output:
            process = subprocess.Popen(
                argv,
                cwd=REPO,
                env=env,
                stdin=stdin,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        started.append(process)
        return process

    yield start
    for process in started:
        stop_process(process)
        if process.stdin is not None:
            process.stdin.close()


@pytest.fixture
def test_redis_url() -> str:
    """The test Redis database (``TEST_REDIS_URL``, set by scripts/test-env.sh), or a skip."""
    url = os.environ.get("TEST_REDIS_URL", "")
    if not url:
        pytest.skip("TEST_REDIS_URL is not set: no test Redis (make test sets it when Redis runs)")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis at {url} is unreachable: {exc}")
    return url


@pytest.fixture
def postgres_database_url(django_db_setup, django_db_blocker) -> str:
    """A URL of pytest-django's test database for other processes, or a skip.

    Another process can share only a PostgreSQL test database: SQLite's is in memory.
    """
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip(
            "the suite runs on SQLite; a second process needs PostgreSQL "
            "(make test sets DATABASE_URL when PostgreSQL runs)"
        )
    settings = connection.settings_dict
    with django_db_blocker.unblock():
        connection.ensure_connection()
    password = f":{quote(settings['PASSWORD'], safe='')}" if settings.get("PASSWORD") else ""
    return (
        f"postgres://{settings['USER']}{password}@{settings['HOST'] or '127.0.0.1'}:"
        f"{settings['PORT'] or 5432}/{settings['NAME']}"
    )
