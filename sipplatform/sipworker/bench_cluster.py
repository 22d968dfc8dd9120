"""``python -m sipplatform.sipworker.bench_cluster`` (``make bench``): calls per second through
the Kamailio front door (``deploy/kamailio``) in front of one, two and three SIP workers, and
the scaling factor of two and three over one, all measured in the same run.

The call and its measurement are those of ``sipplatform.sipworker.bench`` (its SIPp scenarios,
rate ladder and sustained run, reused from there): SIPp calls ``uas@127.0.0.1`` through
Kamailio, which hashes each call to a worker by Call-ID and record-routes it; the worker forks
it to the one binding, a SIPp UAS answering at once (INVITE/100/180/200/ACK/BYE/200, the ACK
and BYE back through Kamailio). The workers share one fresh PostgreSQL database and one Redis
database, as in production. The rate is the highest of the ladder held for ``--duration``
seconds with under 0.1 % failed calls, each sustained attempt on freshly started workers and
Kamailio.

Nothing is pinned to a core: every process shares the machine's cores with the scheduler.
What a call costs is counted instead, at a moderate fixed rate (``--cpu-rate``), in CPU time
per call of the workers (with their dialplan sandboxes), of Kamailio (all its processes) and
of SIPp (caller and UAS): that says how many cores N workers can use at all once the front
door and the load generator have theirs.

Ports: 25900-25925. Every process started here is stopped by its PID at the end.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sipplatform.sipworker.bench import (
    HOST,
    REPO,
    Sipp,
    SippPorts,
    cpu_seconds,
    platform_environment,
    provision,
    start_logged,
    stop,
    sustained_calls,
    wait_for_text,
    wait_for_udp_answer,
    wait_until_idle,
)

SIPP_PORTS = SippPorts(uas=25900, uas_control=25901, uac=25902, control=25903)
FRONT_DOOR_PORT = 25910
WORKER_PORTS = (25921, 25922, 25923, 25924, 25925)
DATABASE = "sipplatform_bench_cluster"
REDIS_DATABASE = 13
KAMAILIO = REPO / "deploy" / "kamailio"


@dataclass(frozen=True)
class CallCost:
    """CPU milliseconds per call at a moderate rate, by who spent them."""

    workers: float
    front_door: float
    sipp: float

    @property
    def total(self) -> float:
        return self.workers + self.front_door + self.sipp


@dataclass(frozen=True)
class ClusterFigures:
    workers: int
    calls_per_second: float
    failure_ratio: float
    cost: CallCost


class FrontedWorkers:
    """``count`` SIP workers behind Kamailio, restartable as a whole: the ``Server`` of
    ``bench.sustained_calls``, reached at the front door's port."""

    def __init__(self, count: int, env: dict[str, str], workdir: Path, sipp: Sipp) -> None:
        if not 1 <= count <= len(WORKER_PORTS):
            raise ValueError(f"between 1 and {len(WORKER_PORTS)} workers")
        self.name = f"{count} worker{'s' if count > 1 else ''}"
        self.port = FRONT_DOOR_PORT
        self.count = count
        self.env = env | {"SIP_SECURITY_FRONT_DOORS": f"{HOST}/32"}
        self.workdir = workdir
        self.sipp = sipp
        self._starts = 0
        self.workers: list[subprocess.Popen] = []
        self.front_door: subprocess.Popen | None = None
        self._start()

    @property
    def pid(self) -> int:
        """The first worker: ``bench.wait_until_idle`` waits for it (the hash spreads calls
        evenly, so the others are idle by then too)."""
        return self.workers[0].pid

    def restart(self) -> None:
        self.stop()
        self._start()

    def stop(self) -> None:
        if self.front_door is not None:
            stop(self.front_door)
            self.front_door = None
        for worker in self.workers:
            stop(worker, grace=15)
        self.workers = []

    def cpu_seconds(self) -> tuple[float, float]:
        """CPU seconds so far of the workers (sandboxes included) and of Kamailio."""
        assert self.front_door is not None
        workers = sum(tree_cpu_seconds(worker.pid) for worker in self.workers)
        return workers, tree_cpu_seconds(self.front_door.pid)

    def _start(self) -> None:
        self._starts += 1
        for number, port in enumerate(WORKER_PORTS[: self.count], start=1):
            log = self.workdir / f"sipworker-{self.count}-{number}-{self._starts}.log"
            command = [sys.executable, "manage.py", "sipworker", "--listen", f"udp:{HOST}:{port}"]
            command += ["--worker-id", f"bench-{number}", "--grace", "0"]
            self.workers.append(start_logged(command, log, env=self.env))
        for number, worker in enumerate(self.workers, start=1):
            wait_for_text(
                self.workdir / f"sipworker-{self.count}-{number}-{self._starts}.log",
                "listening on",
                worker,
            )
        self.front_door = start_front_door(self.workdir, WORKER_PORTS[: self.count])
        wait_for_udp_answer(self.sipp, self.port)


def start_front_door(workdir: Path, worker_ports: Sequence[int]) -> subprocess.Popen:
    """Kamailio as shipped, started as its container does (``render-dispatcher.sh``)."""
    run = workdir / "kamailio-run"
    run.mkdir(exist_ok=True)
    listing = workdir / "dispatcher.list"
    command = [
        str(KAMAILIO / "render-dispatcher.sh"),
        "kamailio",
        *("-f", str(KAMAILIO / "kamailio.cfg"), "-DD", "-E", "-Y", str(run)),
        *("-A", f"SIP_LISTEN=udp:{HOST}:{FRONT_DOOR_PORT}", "-A", "NO_TCP"),
        *("-A", f'DISPATCHER_LIST="{listing}"', "-A", f'CTL_SOCKET="unix:{run / "ctl"}"'),
        *("-A", "LOG_LEVEL=1"),
    ]
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "DISPATCHER_TEMPLATE": str(KAMAILIO / "dispatcher.list.template"),
        "DISPATCHER_LIST": str(listing),
        "SIP_WORKERS": " ".join(f"{HOST}:{port}" for port in worker_ports),
    }
    return start_logged(command, workdir / "kamailio.log", env=env)


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds of ``root`` and every process descending from it that is still running."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    total, pending = 0.0, [root]
    while pending:
        pid = pending.pop()
        try:
            total += cpu_seconds(pid)
        except OSError:
            continue
        pending.extend(children.get(pid, ()))
    return total


def reaped_children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def call_cost(cluster: FrontedWorkers, sipp: Sipp, uas_pid: int, rate: int, seconds: float):
    """CPU milliseconds per call at ``rate`` for ``seconds``: workers, Kamailio, SIPp. The
    caller is the only child that ends during the run, so its CPU is the growth of the
    reaped children's."""
    wait_until_idle(cluster.pid)
    workers, front_door = cluster.cpu_seconds()
    uas, caller = cpu_seconds(uas_pid), reaped_children_cpu()
    run = sipp.run("uac.xml", cluster.port, rate=rate, seconds=seconds)
    wait_until_idle(cluster.pid)
    workers_after, front_door_after = cluster.cpu_seconds()
    spent_sipp = cpu_seconds(uas_pid) - uas + reaped_children_cpu() - caller
    calls = max(run.successful, 1)
    return CallCost(
        workers=(workers_after - workers) * 1000 / calls,
        front_door=(front_door_after - front_door) * 1000 / calls,
        sipp=spent_sipp * 1000 / calls,
    )


def bench_cluster(count: int, env, workdir: Path, sipp: Sipp, uas_pid: int, args):
    print(f"  {count} worker(s) behind Kamailio", flush=True)
    cluster = FrontedWorkers(count, env, workdir, sipp)
    try:
        cost = call_cost(cluster, sipp, uas_pid, args.cpu_rate, args.probe * 2)
        print(
            f"    CPU per call at {args.cpu_rate}/s: workers {cost.workers:.2f} ms, "
            f"Kamailio {cost.front_door:.2f} ms, SIPp {cost.sipp:.2f} ms",
            flush=True,
        )
        run = sustained_calls(sipp, cluster, args.probe, args.duration)
    finally:
        cluster.stop()
    return ClusterFigures(
        workers=count,
        calls_per_second=run.successful / args.duration if run else 0.0,
        failure_ratio=run.failure_ratio if run else 1.0,
        cost=cost,
    )


def report(results: Sequence[ClusterFigures], args) -> None:
    cores = os.cpu_count() or 1
    base = next((r.calls_per_second for r in results if r.workers == 1), 0.0)
    print()
    print(
        f"Through Kamailio, sustained {args.duration:g} s, under 0.1 % failed calls; "
        f"{cores} cores, none pinned (CPU per call counted at {args.cpu_rate} calls/s):"
    )
    header = f"{'workers':>8}{'calls/s':>9}{'x one':>7}{'workers':>10}{'Kamailio':>10}"
    print(header + f"{'SIPp':>8}{'cores at rate':>15}")
    for r in results:
        scale = f"{r.calls_per_second / base:.2f}x" if base else "-"
        busy = r.calls_per_second * r.cost.total / 1000
        print(
            f"{r.workers:>8}{r.calls_per_second:>9.0f}{scale:>7}{r.cost.workers:>8.2f}ms"
            f"{r.cost.front_door:>8.2f}ms{r.cost.sipp:>6.2f}ms{busy:>15.2f}"
        )
    print("(cores at rate: the cores the measured rate needs at those CPU costs per call)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2,3", help="worker counts, comma-separated")
    parser.add_argument("--duration", type=float, default=30.0, help="sustained run, seconds")
    parser.add_argument("--probe", type=float, default=5.0, help="each ladder step, seconds")
    parser.add_argument("--cpu-rate", type=int, default=100, help="calls/s for CPU per call")
    parser.add_argument(
        "--redis-database",
        type=int,
        default=REDIS_DATABASE,
        help="Redis database the workers share (flushed before and after)",
    )
    args = parser.parse_args(argv)
    counts = [int(count) for count in args.workers.split(",")]
    for program in ("sipp", "kamailio"):
        if shutil.which(program) is None:
            raise SystemExit(f"{program} is not installed: apt-get install sip-tester kamailio")
    results = []
    with tempfile.TemporaryDirectory(prefix="sipbench-cluster-") as scratch:
        workdir = Path(scratch)
        sipp = Sipp(workdir, SIPP_PORTS)
        uas = sipp.start_uas()
        try:
            time.sleep(1)
            with platform_environment(workdir, args.redis_database, DATABASE) as env:
                provision(env, uas_port=SIPP_PORTS.uas, accounts=0)
                for count in counts:
                    results.append(bench_cluster(count, env, workdir, sipp, uas.pid, args))
        finally:
            stop(uas)
    report(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
