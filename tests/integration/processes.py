"""Running the platform's production processes from tests: ports, start-up, shutdown.

Each process gets a port of this suite's range (8100-8199), is waited for, and is stopped by
PID when the test ends, passed or failed (see the ``spawn`` fixture in ``conftest.py``).
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from sipcore import testing
from sipcore.testing import port_is_free as port_is_free  # re-exported for the suite's tests

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
PORT_RANGE = range(8100, 8200)
STOP_GRACE_SECONDS = 10


def free_port(*taken: int) -> int:
    """A port of this suite's range that nothing uses right now over TCP or UDP.

    ``taken`` are ports already handed out for the same test and not bound yet.
    """
    return testing.free_port(PORT_RANGE, *taken)


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30.0) -> None:
    """Return once ``port`` accepts connections; fail early if ``process`` died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{process.args[0]} exited with {process.returncode} at start")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listened on 127.0.0.1:{port} within {timeout} s")


def stop_process(process: subprocess.Popen, signum: int = signal.SIGTERM) -> int:
    """Signal the process, then kill it if it has not exited within the grace period."""
    if process.poll() is None:
        process.send_signal(signum)
        try:
            process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def platform_env(**overrides: str) -> dict[str, str]:
    """This environment minus the platform variables, plus ``overrides``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "SIP_LISTEN", "SIP_DOMAIN", "DEBUG"}
    }
    env["DJANGO_SETTINGS_MODULE"] = "sipplatform.settings"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env
