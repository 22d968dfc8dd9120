"""Running Kamailio with ``deploy/kamailio/kamailio.cfg`` in front of SIP workers, for tests.

Ports come from the scale-out suite's range, 25000-25999. Kamailio runs in the foreground
(``-DD``) with its runtime directory, control socket and dispatcher list in the test's
temporary directory, probing the workers every second; ``kamcmd`` reads its dispatcher state.
``start_sip_workers`` runs ``manage.py sipworker`` processes to stand behind it.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sipplatform.sipworker.tests.support import manage_py, wait_for_output
from tests.integration.processes import REPO, port_is_free

PORT_RANGE = range(25000, 26000)
DEPLOY = REPO / "deploy" / "kamailio"
KAMAILIO_CONFIG = DEPLOY / "kamailio.cfg"
PING_INTERVAL = 1
FR_TIMER_MS = 2000
WORKER_START_TIMEOUT = 60


def free_port(*taken: int) -> int:
    """A port of this suite's range free for UDP and TCP; ``taken`` are handed out already."""
    candidates = [port for port in PORT_RANGE if port not in taken]
    random.shuffle(candidates)
    for port in candidates:
        if port_is_free(port):
            return port
    raise RuntimeError(f"no free port in {PORT_RANGE.start}-{PORT_RANGE.stop - 1}")


def kamailio_missing() -> str | None:
    """Why Kamailio cannot run here, or None."""
    for program in ("kamailio", "kamcmd"):
        if shutil.which(program) is None:
            return f"{program} is not installed (apt-get install -y kamailio)"
    return None


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
