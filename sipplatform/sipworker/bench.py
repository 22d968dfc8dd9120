"""``python -m sipplatform.sipworker.bench`` (``make bench``): the SIP worker under SIPp load,
side by side with the Sippy B2BUA.

One ``manage.py sipworker`` process (production settings: PostgreSQL and Redis when they run
here, else SQLite and in-process tasks) and one Sippy ``b2bua`` process are driven in turn by
SIPp with the same scenarios (``sipp/``): a caller calls ``uas@127.0.0.1``, a registered
account whose contact is a SIPp UAS answering at once (INVITE/100/180/200/ACK/BYE/200). Sippy
routes every call to the same UAS statically. Printed for each:

* calls per second: the highest rate of a ladder that completes with under 0.1 % failed calls
  in a short probe, then held for ``--duration`` seconds (stepping down if the long run fails);
* post-dial delay added: median and 99th percentile of INVITE-to-180 at a moderate fixed rate
  (``--pdd-rate``), less SIPp's own when it calls the UAS directly;
* memory per active call: growth of the server process's resident memory from idle to
  ``--concurrent`` calls held up at once, divided by that number;
* for the worker only, digest registrations per second (REGISTER, 401, REGISTER, 200), found
  with a ladder like the calls.

Ports: 23900-23905 (outside the 18000-18999 range the worker's process tests take, so a
benchmark and those tests can run at once). Every process started here is stopped by its PID
at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from sipplatform.sipworker import eventloop
from sipplatform.sipworker.register_load import register_at_rate

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = Path(__file__).resolve().parent / "sipp"
VENV_BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
UAS_PORT, WORKER_PORT, SIPPY_PORT, UAC_PORT = 23900, 23901, 23902, 23903
CONTROL_PORT, UAS_CONTROL_PORT = 23904, 23905
BENCH_DATABASE = "sipplatform_bench"
BENCH_REDIS_DATABASE = 13
MAX_FAILURE_RATIO = 0.001
CALL_RATES = (100, 150, 200, 300, 400, 500, 600, 800, 1000, 1200)
REGISTRATION_RATES = (100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1100, 1200, 1300, 1600)
REGISTRATION_ACCOUNTS = 200
PASSWORD = "Bench-Secret-1"
START_TIMEOUT = 60
IDLE_CPU_SHARE = 0.05
SIPP_COMMON = ("-nostdin", "-default_behaviors", "all,-abortunexp", "-ci", HOST)


@dataclass(frozen=True)
class SippRun:
    rate: int
    attempted: int
    successful: int
    failed: int
    post_dial_ms: tuple[float, ...]

    @property
    def failure_ratio(self) -> float:
        return 1.0 if not self.attempted else (self.attempted - self.successful) / self.attempted

    @property
    def passed(self) -> bool:
        return self.attempted > 0 and self.failure_ratio < MAX_FAILURE_RATIO


@dataclass(frozen=True)
class Figures:
    name: str
    calls_per_second: float
    failure_ratio: float
    post_dial_median_ms: float
    post_dial_p99_ms: float
    memory_per_call_kib: float
    cpu_ms_per_call: float
    """CPU time of the server process (all its threads) per call at the moderate rate."""
    registrations_per_second: float | None = None
    cpu_ms_per_registration: float | None = None


@dataclass(frozen=True)
class SippPorts:
    """SIPp's own ports: the UAS's SIP and control ports, the caller's SIP and control ports."""

    uas: int = UAS_PORT
    uas_control: int = UAS_CONTROL_PORT
    uac: int = UAC_PORT
    control: int = CONTROL_PORT


class Sipp:
    """Runs SIPp scenarios from a scratch directory, where it leaves its statistics files."""

    def __init__(self, workdir: Path, ports: SippPorts = SippPorts()) -> None:
        self.workdir = workdir
        self.ports = ports
        self._runs = 0

    def start_uas(self) -> subprocess.Popen:
        ports = ["-p", str(self.ports.uas), "-cp", str(self.ports.uas_control)]
        return self._popen("uas.xml", ports)

    def run(
        self,
        scenario: str,
        port: int,
        *,
        rate: int,
        seconds: float,
        hold_ms: int = 0,
        limit: int | None = None,
        extra: Sequence[str] = (),
    ) -> SippRun:
        """Place ``rate`` calls a second for ``seconds`` against ``HOST:port`` and wait."""
        self._runs += 1
        calls = max(1, round(rate * seconds))
        stats = self.workdir / f"run{self._runs}.csv"
        argv = [
            f"{HOST}:{port}",
            "-s",
            "uas",
            "-p",
            str(self.ports.uac),
            "-cp",
            str(self.ports.control),
            "-r",
            str(rate),
            "-m",
            str(calls),
            "-d",
            str(hold_ms),
            "-l",
            str(limit or max(rate * 10, 100)),
            "-recv_timeout",
            "8000",
            "-timeout",
            f"{int(seconds + hold_ms / 1000 + 60)}s",
            "-trace_stat",
            "-stf",
            str(stats),
            "-trace_rtt",
            "-rtt_freq",
            "1",
            *extra,
        ]
        process = self._popen(scenario, argv)
        process.wait()
        return SippRun(
            rate=rate,
            attempted=calls,
            successful=_last_stat(stats, "SuccessfulCall(C)"),
            failed=_last_stat(stats, "FailedCall(C)"),
            post_dial_ms=self._collect_rtts(scenario),
        )

    def start_held_calls(self, port: int, *, count: int, hold_ms: int) -> subprocess.Popen:
        """Start ``count`` calls held ``hold_ms`` each; poll ``current_calls`` for the level."""
        stats = self.workdir / "held.csv"
        argv = [
            f"{HOST}:{port}",
            "-s",
            "uas",
            "-p",
            str(self.ports.uac),
            "-cp",
            str(self.ports.control),
            "-r",
            "200",
            "-m",
            str(count),
            "-l",
            str(count),
            "-d",
            str(hold_ms),
            "-recv_timeout",
            "8000",
            "-trace_stat",
            "-stf",
            str(stats),
            "-fd",
            "1",
        ]
        return self._popen("uac.xml", argv)

    def current_calls(self) -> int:
        return _last_stat(self.workdir / "held.csv", "CurrentCall")

    def _popen(self, scenario: str, argv: list[str]) -> subprocess.Popen:
        command = ["sipp", "-sf", str(SCENARIOS / scenario), "-i", HOST, *SIPP_COMMON, *argv]
        return start_logged(command, self.workdir / f"{scenario}.log", cwd=self.workdir)

    def _collect_rtts(self, scenario: str) -> tuple[float, ...]:
        values: list[float] = []
        for path in self.workdir.glob(f"{Path(scenario).stem}_*_rtt.csv"):
            with path.open() as handle:
                for row in csv.reader(handle, delimiter=";"):
                    with contextlib.suppress(IndexError, ValueError):
                        values.append(float(row[1]))
            path.unlink()
        return tuple(values)


class Server:
    """A server under test that can be started afresh: an overloaded one can take minutes to
    work off its backlog, so every sustained run begins on a new process."""

    def __init__(self, name: str, port: int, start: Callable[[int], subprocess.Popen]) -> None:
        self.name = name
        self.port = port
        self._start = start
        self._starts = 0
        self.process = self._start_next()

    @property
    def pid(self) -> int:
        return self.process.pid

    def restart(self) -> None:
        stop(self.process, grace=15)
        self.process = self._start_next()

    def stop(self) -> None:
        stop(self.process, grace=15)

    def _start_next(self) -> subprocess.Popen:
        self._starts += 1
        return self._start(self._starts)


def start_logged(
    command: list[str], log: Path, *, cwd: Path = REPO, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """Start ``command`` with its output appended to ``log``."""
    with log.open("a") as output:
        return subprocess.Popen(
            command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=output
        )


def _last_stat(path: Path, column: str) -> int:
    try:
        with path.open() as handle:
            rows = list(csv.reader(handle, delimiter=";"))
    except FileNotFoundError:
        return 0
    if len(rows) < 2:
        return 0
    return int(rows[-1][rows[0].index(column)])


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def resident_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until_idle(pid: int, timeout: float = 120.0) -> None:
    """Until the server has worked off what an earlier (overloaded) run left queued."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(1.0)
        if cpu_seconds(pid) - before < IDLE_CPU_SHARE:
            return


def stop(process: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` (Sippy at times ignores SIGTERM)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for_text(log: Path, text: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while text not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{process.args[0]} did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def wait_for_udp_answer(sipp: Sipp, port: int) -> None:
    """Until the server answers a call (Sippy prints nothing when it is ready)."""
    deadline = time.monotonic() + START_TIMEOUT
    while not sipp.run("uac.xml", port, rate=10, seconds=0.1).passed:
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing answered calls on port {port}")
        time.sleep(0.5)


# the platform under test --------------------------------------------------------------------


@contextlib.contextmanager
def platform_environment(
    workdir: Path, redis_database: int = BENCH_REDIS_DATABASE, database: str = BENCH_DATABASE
) -> Iterator[dict[str, str]]:
    """Environment of a worker on a fresh bench database (PostgreSQL when it runs, else
    SQLite) and Redis database ``redis_database`` when Redis runs (else in-process tasks),
    flushed before and after."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env |= {
        "DJANGO_SETTINGS_MODULE": "sipplatform.settings",
        "SIP_DOMAIN": HOST,
        "SIP_LISTEN": f"udp:{HOST}:{WORKER_PORT}",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    postgres = _postgres_available()
    env["DATABASE_URL"] = (
        f"postgres://postgres@{HOST}:5432/{database}"
        if postgres
        else f"sqlite:///{workdir / 'bench.sqlite3'}"
    )
    redis_url = f"redis://{HOST}:6379/{redis_database}"
    redis_client = _redis_client(redis_url)
    if redis_client is not None:
        env["REDIS_URL"] = redis_url
        redis_client.flushdb()
    if postgres:
        _recreate_postgres_database(database)
    try:
        yield env
    finally:
        if redis_client is not None:
            redis_client.flushdb()
        if postgres:
            _drop_postgres_database(database)


def _postgres_available() -> bool:
    return shutil.which("pg_isready") is not None and (
        subprocess.run(["pg_isready", "-q", "-h", HOST, "-p", "5432"], check=False).returncode == 0
    )


def _admin_sql(statement: str) -> None:
    import psycopg

    with psycopg.connect(f"postgres://postgres@{HOST}:5432/postgres", autocommit=True) as db:
        db.execute(statement)


def _recreate_postgres_database(name: str = BENCH_DATABASE) -> None:
    _drop_postgres_database(name)
    _admin_sql(f"CREATE DATABASE {name}")


def _drop_postgres_database(name: str = BENCH_DATABASE) -> None:
    _admin_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _redis_client(url: str):
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        return None
    return client


def provision(
    env: dict[str, str],
    *,
    uas_port: int = UAS_PORT,
    accounts: int = REGISTRATION_ACCOUNTS,
    concurrent_calls: int = 1000,
) -> None:
    """Migrate; create the bench customer, the called account (its contact: the SIPp UAS at
    ``uas_port``, taking ``concurrent_calls`` at once) and the ``accounts`` that register
    (``reg0``, ``reg1``, ...). Runs here, as a Django process on the worker's settings."""
    import django

    os.environ.update(env)
    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from sipcore.directory import BindingRecord
    from sipplatform.customers.services import create_customer
    from sipplatform.directory.services import create_sip_account
    from sipplatform.sipworker.directory import save_binding

    call_command("migrate", verbosity=0)
    customer = create_customer(
        "Bench", max_calls_per_minute=0, max_concurrent_executions=concurrent_calls
    )
    called, _ = create_sip_account(
        customer, "uas", password=PASSWORD, max_concurrent_calls=concurrent_calls
    )
    contact = BindingRecord(
        account_id=called.pk,
        contact_uri=f"sip:uas@{HOST}:{uas_port}",
        transport="udp",
        received_host=HOST,
        received_port=uas_port,
        expires_at=time.time() + 86400,
        call_id="bench",
        cseq=1,
    )
    save_binding(contact, max_bindings=1)
    for index in range(accounts):
        create_sip_account(customer, f"reg{index}", password=PASSWORD)
    connections.close_all()


# measuring ----------------------------------------------------------------------------------


def highest_passing_rate(sipp: Sipp, port: int, pid: int, probe: float) -> SippRun | None:
    """The last rate of the call ladder whose probe passes, stopping at the first that fails."""
    best: SippRun | None = None
    for rate in CALL_RATES:
        wait_until_idle(pid)
        run = sipp.run("uac.xml", port, rate=rate, seconds=probe)
        print(f"    {probe:g} s at {rate}/s: {run.successful}/{run.attempted} ok", flush=True)
        if not run.passed:
            break
        best = run
    return best


def highest_passing_registration_rate(pid: int, probe: float) -> tuple[float, float]:
    """Registrations per second at the highest ladder rate passing under 0.1 % failures, and
    the worker's CPU milliseconds per registration at the first (lowest) rate."""
    users = [f"reg{index}" for index in range(REGISTRATION_ACCOUNTS)]
    best = 0.0
    cpu_ms = float("nan")
    for rate in REGISTRATION_RATES:
        wait_until_idle(pid)
        started = cpu_seconds(pid)
        run = eventloop.runner()(
            register_at_rate(
                (HOST, WORKER_PORT),
                domain=HOST,
                users=users,
                password=PASSWORD,
                rate=rate,
                seconds=probe,
            )
        )
        print(
            f"    {probe:g} s of registrations at {rate}/s: {run.successful}/{run.attempted} ok"
            f" (refused: {dict(run.refusals)}, unanswered: {run.unanswered})",
            flush=True,
        )
        if rate == REGISTRATION_RATES[0]:
            wait_until_idle(pid)
            cpu_ms = (cpu_seconds(pid) - started) * 1000 / max(run.successful, 1)
        if run.failure_ratio >= MAX_FAILURE_RATIO:
            break
        best = run.successful / probe
    return best, cpu_ms


def sustained_calls(sipp: Sipp, server: Server, probe: float, duration: float) -> SippRun | None:
    """The highest ladder rate held for ``duration`` with under 0.1 % failures, each attempt
    on a freshly started server."""
    probed = highest_passing_rate(sipp, server.port, server.pid, probe)
    if probed is None:
        return None
    for rate in reversed([rate for rate in CALL_RATES if rate <= probed.rate]):
        server.restart()
        wait_until_idle(server.pid)
        run = sipp.run("uac.xml", server.port, rate=rate, seconds=duration)
        print(f"    {duration:g} s at {rate}/s: {run.successful}/{run.attempted} ok", flush=True)
        if run.passed:
            return run
    return None


def memory_per_call(sipp: Sipp, port: int, pid: int, concurrent: int) -> float:
    """KiB of resident memory per call held up, from idle to ``concurrent`` calls.

    Measured first, on a server that has only been warmed up with a few calls: after an
    overloaded run its heap is already grown and a second wave of calls costs nothing new.
    """
    sipp.run("uac.xml", port, rate=50, seconds=2)
    wait_until_idle(pid)
    idle = resident_kib(pid)
    hold_ms = int(concurrent / 200 * 1000) + 15_000
    held = sipp.start_held_calls(port, count=concurrent, hold_ms=hold_ms)
    try:
        deadline = time.monotonic() + hold_ms / 1000
        while sipp.current_calls() < concurrent and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(1)
        active = sipp.current_calls()
        loaded = resident_kib(pid)
        print(f"    {active} calls up: {idle} -> {loaded} KiB resident", flush=True)
        held.wait(timeout=hold_ms / 1000 + 60)
    finally:
        stop(held)
    return (loaded - idle) / max(active, 1)


def measure_server(
    server: Server, sipp: Sipp, args: argparse.Namespace, direct_ms: float
) -> Figures:
    name, port, pid = server.name, server.port, server.pid
    print(f"  {name}: memory at {args.concurrent} concurrent calls", flush=True)
    per_call = memory_per_call(sipp, port, pid, args.concurrent)
    print(f"  {name}: post-dial delay at {args.pdd_rate} calls/s", flush=True)
    wait_until_idle(pid)
    started = cpu_seconds(pid)
    moderate = sipp.run("uac.xml", port, rate=args.pdd_rate, seconds=args.probe * 2)
    wait_until_idle(pid)
    cpu_ms = (cpu_seconds(pid) - started) * 1000 / max(moderate.successful, 1)
    pdd = moderate.post_dial_ms
    print(f"  {name}: calls", flush=True)
    run = sustained_calls(sipp, server, args.probe, args.duration)
    return Figures(
        name=name,
        calls_per_second=run.successful / args.duration if run else 0.0,
        failure_ratio=run.failure_ratio if run else 1.0,
        post_dial_median_ms=statistics.median(pdd) - direct_ms if pdd else float("nan"),
        post_dial_p99_ms=percentile(pdd, 0.99) - direct_ms if pdd else float("nan"),
        memory_per_call_kib=per_call,
        cpu_ms_per_call=cpu_ms,
    )


def bench_worker(sipp: Sipp, workdir: Path, args, direct_ms: float) -> Figures:
    with platform_environment(workdir, args.redis_database) as env:
        provision(env)
        print(
            f"  worker: {env['DATABASE_URL'].split(':')[0]}, "
            f"{'Redis' if 'REDIS_URL' in env else 'in-process tasks'}",
            flush=True,
        )

        def start(count: int) -> subprocess.Popen:
            log = workdir / f"sipworker-{count}.log"
            command = [sys.executable, "manage.py", "sipworker", "--worker-id", "bench"]
            worker = start_logged([*command, "--grace", "0"], log, env=env)
            wait_for_text(log, "listening on", worker)
            return worker

        server = Server("worker", WORKER_PORT, start)
        try:
            figures = measure_server(server, sipp, args, direct_ms)
            print("  worker: digest registrations", flush=True)
            registered, cpu_ms = highest_passing_registration_rate(server.pid, args.probe)
        finally:
            server.stop()
    return replace(figures, registrations_per_second=registered, cpu_ms_per_registration=cpu_ms)


def bench_sippy(sipp: Sipp, workdir: Path, args, direct_ms: float) -> Figures:
    b2bua = shutil.which("b2bua", path=str(VENV_BIN)) or shutil.which("b2bua")
    if b2bua is None:
        raise SystemExit("Sippy's b2bua is not installed: pip install -r requirements.txt")

    def start(count: int) -> subprocess.Popen:
        sippy = start_logged(
            [
                b2bua,
                "-f",
                *("-l", HOST, "-p", str(SIPPY_PORT), "-s", f"{HOST}:{UAS_PORT}"),
                *("-u", "-A", "0"),
                *("-c", str(workdir / f"b2bua-{count}.sock")),
                *("-P", str(workdir / f"b2bua-{count}.pid")),
                *("-L", str(workdir / f"b2bua-{count}.log")),
            ],
            workdir / f"sippy-{count}.log",
            env={**os.environ, "SIPLOG_LVL": "WARN", "SIPLOG_BEND": "stderr"},
        )
        wait_for_udp_answer(sipp, SIPPY_PORT)
        return sippy

    server = Server("sippy", SIPPY_PORT, start)
    try:
        return measure_server(server, sipp, args, direct_ms)
    finally:
        server.stop()


def direct_post_dial_ms(sipp: Sipp) -> float:
    """SIPp's own INVITE-to-180 calling the UAS directly: subtracted as the baseline."""
    run = sipp.run("uac.xml", UAS_PORT, rate=100, seconds=3)
    return statistics.median(run.post_dial_ms) if run.post_dial_ms else 0.0


def report(worker: Figures, sippy: Figures, args) -> None:
    ratio = worker.calls_per_second / sippy.calls_per_second if sippy.calls_per_second else 0.0
    print()
    print(f"Sustained {args.duration:g} s, under 0.1 % failed calls, one process each:")
    print(f"{'':32}{'worker':>14}{'Sippy B2BUA':>14}")
    rows = [
        ("calls per second", "calls_per_second", "{:.0f}"),
        ("failed calls", "failure_ratio", "{:.3%}"),
        (f"PDD added, median @{args.pdd_rate}/s", "post_dial_median_ms", "{:.1f} ms"),
        (f"PDD added, p99 @{args.pdd_rate}/s", "post_dial_p99_ms", "{:.1f} ms"),
        (f"memory per call ({args.concurrent} up)", "memory_per_call_kib", "{:.1f} KiB"),
        (f"CPU per call @{args.pdd_rate}/s", "cpu_ms_per_call", "{:.2f} ms"),
    ]
    for label, attribute, form in rows:
        values = [form.format(getattr(figures, attribute)) for figures in (worker, sippy)]
        print(f"{label:32}{values[0]:>14}{values[1]:>14}")
    print(f"{'digest registrations per second':32}{worker.registrations_per_second:>14.0f}")
    print(f"{'CPU per digest registration':32}{worker.cpu_ms_per_registration:>11.2f} ms")
    print(f"worker / Sippy calls per second: {ratio:.2f}x")
    per_cpu = sippy.cpu_ms_per_call / worker.cpu_ms_per_call
    print(f"worker / Sippy calls per CPU second: {per_cpu:.2f}x")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=30.0, help="sustained run, seconds")
    parser.add_argument("--probe", type=float, default=5.0, help="each ladder step, seconds")
    parser.add_argument("--concurrent", type=int, default=1000, help="calls up for memory")
    parser.add_argument(
        "--pdd-rate", type=int, default=100, help="calls/s while measuring post-dial delay"
    )
    parser.add_argument(
        "--redis-database",
        type=int,
        default=BENCH_REDIS_DATABASE,
        help="Redis database the worker uses (flushed before and after)",
    )
    args = parser.parse_args(argv)
    if shutil.which("sipp") is None:
        raise SystemExit("SIPp is not installed: apt-get install sip-tester")
    with tempfile.TemporaryDirectory(prefix="sipbench-") as scratch:
        workdir = Path(scratch)
        sipp = Sipp(workdir)
        uas = sipp.start_uas()
        try:
            time.sleep(1)
            direct_ms = direct_post_dial_ms(sipp)
            print(f"SIPp to SIPp directly: median post-dial delay {direct_ms:.1f} ms", flush=True)
            worker = bench_worker(sipp, workdir, args, direct_ms)
            sippy = bench_sippy(sipp, workdir, args, direct_ms)
        finally:
            stop(uas)
        report(worker, sippy, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
