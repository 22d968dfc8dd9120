"""``manage.py sipworker``: argument errors, and a real process that listens and stops on
SIGTERM with exit status 0."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest
from django.core.management import CommandError, call_command

from sipplatform.sipworker.management.commands.sipworker import Command
from sipplatform.sipworker.runtime import nonce_secret, worker_config
from sipplatform.sipworker.tests.support import (
    REPO,
    free_port,
    manage_py,
    options_probe,
    wait_for_output,
)

STOP_TIMEOUT = 30


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--listen", "sctp:127.0.0.1:5060"], "transport must be one of udp, tcp"),
        (["--listen", "udp:sip.example.com:5060"], "host must be an IP address"),
        (["--listen", "udp:127.0.0.1:99999"], "port must be a number from 1 to 65535"),
        (["--listen", "udp:127.0.0.1"], "host must be an IP address"),
        (["--grace", "soon"], "'soon' is not a number of seconds"),
        (["--grace", "-1"], "the grace period is 0 to 3600 seconds"),
        (["--worker-id", "w" * 65], "--worker-id must be 1 to 64 characters"),
        (["--worker-id", ""], "--worker-id must be 1 to 64 characters"),
    ],
)
def test_bad_arguments_are_refused_with_the_reason(args, message):
    with pytest.raises(CommandError, match=message):
        call_command(Command(), *args)


def test_the_nonce_secret_is_shared_by_every_worker_of_one_platform(settings):
    settings.SECRET_KEY = "k" * 50
    first = worker_config(worker_id="w1")
    second = worker_config(worker_id="w2", drain_grace=5)

    assert first.nonce_secret == second.nonce_secret == nonce_secret("k" * 50)
    assert first.nonce_secret != nonce_secret("x" * 50)
    assert b"k" * 50 not in first.nonce_secret
    assert second.drain_grace == 5
    assert first.default_domain == settings.SIP_DOMAIN


def test_the_workers_offer_the_configured_digest_algorithms(settings):
    settings.SIP_DIGEST_ALGORITHMS = ("MD5", "SHA-256")
    assert worker_config(worker_id="w1").digest_algorithms == ("MD5", "SHA-256")


@pytest.fixture
def sqlite_env(tmp_path) -> dict[str, str]:
    """A migrated SQLite database of the test's own, for a worker process."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "SIP_LISTEN", "SIP_DOMAIN"}
    }
    env |= {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'platform.sqlite3'}",
        "SIPPLATFORM_VAR_DIR": str(tmp_path / "var"),
        "PYTHONUNBUFFERED": "1",
    }
    env.setdefault("DJANGO_SETTINGS_MODULE", "sipplatform.settings")
    subprocess.run(manage_py("migrate", "--verbosity", "0"), cwd=REPO, env=env, check=True)
    return env


def test_the_worker_listens_and_exits_0_on_sigterm(sqlite_env, tmp_path):
    port = free_port()
    log = tmp_path / "sipworker.log"
    with log.open("w") as output:
        worker = subprocess.Popen(
            manage_py("sipworker", "--listen", f"udp:127.0.0.1:{port}", "--worker-id", "test-1"),
            cwd=REPO,
            env=sqlite_env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_output(log, f"SIP worker test-1 listening on udp:127.0.0.1:{port}", worker)
        assert options_probe(port).status == 200

        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=STOP_TIMEOUT) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    output = log.read_text()
    assert "SIGTERM: draining calls, then stopping." in output
    assert "SIP worker test-1 stopped." in output


def test_a_port_in_use_is_a_clear_error(sqlite_env, tmp_path):
    import socket

    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", port))
        result = subprocess.run(
            manage_py("sipworker", "--listen", f"udp:127.0.0.1:{port}"),
            cwd=REPO,
            env=sqlite_env,
            capture_output=True,
            text=True,
            timeout=STOP_TIMEOUT,
        )
    assert result.returncode == 1
    assert "cannot listen for SIP" in result.stderr
