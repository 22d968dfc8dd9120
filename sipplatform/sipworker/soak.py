"""``python -m sipplatform.sipworker.soak`` (``make soak``): one SIP worker held under load for
a long time, its memory watched, then a registration storm.

One ``manage.py sipworker`` process on the benchmark's environment
(``bench.platform_environment``: a fresh PostgreSQL database ``--database`` when PostgreSQL
runs, Redis database ``--redis-database`` when Redis runs, both emptied before and after) and
two phases:

1. **Held calls**: SIPp (``sipp/uac.xml``) places ``--calls`` calls at ``--call-rate`` a second
   to ``uas@127.0.0.1``, an account whose one binding is a SIPp UAS (``sipp/uas.xml``); each
   call stays up long enough for all of them to be up at once for ``--hold`` seconds, then
   hangs up with BYE. The worker's resident memory is sampled every ``--sample`` seconds. The
   run fails when the memory grows by more than ``--max-growth-mib`` between the start and the
   end of the hold, when a call fails, or when fewer than ``--calls`` calls are up at both
   ends (the caller's and the callee's SIPp) at any sample of the hold.
2. **Registration storm**: ``--accounts`` accounts (``reg0``, ``reg1``, ...) register with
   digest authentication through SIPp (``sipp/register.xml``, credentials from an injection
   CSV), at most ``--window`` at a time, as fast as the worker answers; then all of them
   register again (same Call-ID, higher CSeq: a refresh). SIPp retransmits and answers a
   ``stale=true`` 401 again as a phone does (both counted).
   The run fails on a failed registration or when the database does not hold exactly one
   current binding per account afterwards, refreshed by the second round.

SIPp knows only MD5 digest, so this worker offers MD5 first (``SIP_DIGEST_ALGORITHMS``).
Ports: free ones of 27000-27999. The worker's var directory (its record outbox) and the SIPp
logs are a scratch directory, or ``--logs``. Every process started here is stopped by its PID
at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from sipcore.testing import free_port
from sipplatform.sipworker.bench import (
    HOST,
    PASSWORD,
    SCENARIOS,
    SIPP_COMMON,
    _last_stat,
    cpu_seconds,
    platform_environment,
    provision,
    resident_kib,
    start_logged,
    stop,
    wait_for_text,
    wait_until_idle,
)

PORTS = range(27000, 28000)
SOAK_DATABASE = "sipplatform_soak"
SOAK_REDIS_DATABASE = 12
WARM_UP_CALLS = 100
SETTLE_SECONDS = 10.0
"""Added to each call's length so the last call placed is up for the whole hold as well."""
KIB_PER_MIB = 1024
REFRESH_CSEQ = 11
"""First CSeq of the refresh round: above the two of the first round."""


@dataclass(frozen=True)
class Ports:
    worker: int
    uas: int
    uac: int
    control: int
    uas_control: int

    @classmethod
    def pick(cls) -> Ports:
        chosen: list[int] = []
        for _ in range(5):
            chosen.append(free_port(PORTS, *chosen))
        return cls(*chosen)


@dataclass(frozen=True)
class Sample:
    seconds: float
    """Since the first call was placed."""
    rss_kib: int
    caller_calls: int
    callee_calls: int


@dataclass(frozen=True)
class HoldResult:
    calls: int
    hold: float
    idle_kib: int
    samples: tuple[Sample, ...]
    """Taken during the hold only."""
    peak_kib: int
    """The highest of every sample, ramp and hang-up included."""
    end_kib: int
    """After every call has hung up and the worker is idle again."""
    successful: int
    failed: int
    hold_cpu_seconds: float

    @property
    def hold_start_kib(self) -> int:
        return self.samples[0].rss_kib if self.samples else 0

    @property
    def hold_end_kib(self) -> int:
        return self.samples[-1].rss_kib if self.samples else 0

    @property
    def growth_kib(self) -> int:
        return self.hold_end_kib - self.hold_start_kib

    @property
    def fewest_up(self) -> int:
        return min((min(s.caller_calls, s.callee_calls) for s in self.samples), default=0)


@dataclass(frozen=True)
class StormRound:
    name: str
    accounts: int
    successful: int
    failed: int
    seconds: float
    rss_after_kib: int
    retransmitted: int
    rechallenged: int

    @property
    def per_second(self) -> float:
        return self.successful / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Bindings:
    accounts_bound: int
    bindings: int
    refreshed: int
    """Bindings whose CSeq is that of the second round."""


class SoakSipp:
    """SIPp processes of one soak, run from a scratch directory that keeps their statistics."""

    def __init__(self, workdir: Path, ports: Ports) -> None:
        self.workdir = workdir
        self.ports = ports

    def start_uas(self) -> subprocess.Popen:
        return self._popen(
            "uas.xml",
            "uas",
            ["-p", str(self.ports.uas), "-cp", str(self.ports.uas_control), *self._stats("uas")],
        )

    def start_calls(self, *, count: int, rate: float, hold_ms: int, name: str) -> subprocess.Popen:
        """``count`` calls to the worker's ``uas`` account, ``rate`` a second, each held
        ``hold_ms`` after its 200, all allowed up at once."""
        argv = [
            f"{HOST}:{self.ports.worker}",
            *("-s", "uas", "-p", str(self.ports.uac), "-cp", str(self.ports.control)),
            *("-r", f"{rate:g}", "-m", str(count), "-l", str(count), "-d", str(hold_ms)),
            *("-recv_timeout", "8000", *self._stats(name)),
        ]
        return self._popen("uac.xml", name, argv)

    def register(
        self, credentials: Path, *, count: int, window: int, base_cseq: int, name: str
    ) -> subprocess.Popen:
        """One registration per line of ``credentials``, ``window`` at most in progress."""
        argv = [
            f"{HOST}:{self.ports.worker}",
            *("-p", str(self.ports.uac), "-cp", str(self.ports.control)),
            *("-inf", str(credentials), "-m", str(count), "-l", str(window)),
            # The rate only caps how fast SIPp opens registrations: the window paces them.
            *("-r", "10000", "-cid_str", "soak-%u@%s", "-base_cseq", str(base_cseq)),
            # A phone gives up on a registration after Timer F (32 s).
            *("-recv_timeout", "32000", "-trace_counts", *self._stats(name)),
        ]
        return self._popen("register.xml", name, argv)

    def stat(self, name: str, column: str) -> int:
        return _last_stat(self.workdir / f"{name}.csv", column)

    def registration_counts(self, process: subprocess.Popen) -> tuple[int, int]:
        """REGISTERs retransmitted and 401s answered again (``stale=true``) by a finished
        ``register`` run, from its ``-trace_counts`` file."""
        path = self.workdir / f"register_{process.pid}_counts.csv"
        with path.open() as handle:
            rows = list(csv.reader(handle, delimiter=";"))
        last = dict(zip(rows[0], rows[-1], strict=False))
        retransmitted = sum(int(v) for k, v in last.items() if k.endswith("_REGISTER_Retrans"))
        # The first 401 is the expected challenge; any later one is a re-challenge.
        challenges = [int(v) for k, v in last.items() if k.endswith("_401_Recv")]
        return retransmitted, sum(challenges[1:])

    def _stats(self, name: str) -> list[str]:
        return ["-trace_stat", "-stf", str(self.workdir / f"{name}.csv"), "-fd", "1", "-trace_err"]

    def _popen(self, scenario: str, name: str, argv: list[str]) -> subprocess.Popen:
        command = ["sipp", "-sf", str(SCENARIOS / scenario), "-i", HOST, *SIPP_COMMON, *argv]
        return start_logged(command, self.workdir / f"{name}.log", cwd=self.workdir)


@contextlib.contextmanager
def running_worker(env: dict[str, str], workdir: Path) -> Iterator[subprocess.Popen]:
    log = workdir / "sipworker.log"
    command = [sys.executable, "manage.py", "sipworker", "--worker-id", "soak", "--grace", "0"]
    worker = start_logged(command, log, env=env)
    try:
        wait_for_text(log, "listening on", worker)
        yield worker
    finally:
        stop(worker, grace=15)


def wait_for_exit(process: subprocess.Popen, timeout: float) -> None:
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(process)
        raise RuntimeError(f"SIPp did not finish in {timeout:g} s: {process.args}") from None


def hold_calls(sipp: SoakSipp, pid: int, args: argparse.Namespace) -> HoldResult:
    """Warm the worker up, bring ``args.calls`` calls up, hold them ``args.hold`` seconds
    sampling the worker's memory, and let them hang up."""
    warm_up = sipp.start_calls(count=WARM_UP_CALLS, rate=args.call_rate, hold_ms=0, name="warmup")
    wait_for_exit(warm_up, WARM_UP_CALLS / args.call_rate + 60)
    wait_until_idle(pid)
    idle = resident_kib(pid)
    print(f"  idle after {WARM_UP_CALLS} warm-up calls: {idle / KIB_PER_MIB:.1f} MiB", flush=True)

    ramp = args.calls / args.call_rate
    call_seconds = ramp + args.hold + SETTLE_SECONDS
    started = time.monotonic()
    caller = sipp.start_calls(
        count=args.calls, rate=args.call_rate, hold_ms=int(call_seconds * 1000), name="held"
    )
    peak = idle

    def sample() -> Sample:
        nonlocal peak
        rss = resident_kib(pid)
        peak = max(peak, rss)
        return Sample(
            seconds=time.monotonic() - started,
            rss_kib=rss,
            caller_calls=sipp.stat("held", "CurrentCall"),
            callee_calls=sipp.stat("uas", "CurrentCall"),
        )

    try:
        # Ramp: until every call is up at both ends (SIPp writes its counts once a second).
        while True:
            ramp_sample = sample()
            if min(ramp_sample.caller_calls, ramp_sample.callee_calls) >= args.calls:
                break
            if caller.poll() is not None or time.monotonic() - started > ramp + SETTLE_SECONDS:
                raise RuntimeError(
                    f"only {ramp_sample.caller_calls} calls up at the caller and "
                    f"{ramp_sample.callee_calls} at the callee after "
                    f"{time.monotonic() - started:.0f} s (logs: {sipp.workdir})"
                )
            time.sleep(0.5)
        print(
            f"  {args.calls} calls up after {ramp_sample.seconds:.0f} s: "
            f"{ramp_sample.rss_kib / KIB_PER_MIB:.1f} MiB; holding {args.hold:g} s",
            flush=True,
        )
        hold_started = time.monotonic()
        hold_cpu = cpu_seconds(pid)
        samples = [sample()]
        while time.monotonic() - hold_started < args.hold:
            time.sleep(min(args.sample, max(0.0, args.hold - (time.monotonic() - hold_started))))
            samples.append(sample())
            if len(samples) % max(1, round(60 / args.sample)) == 0:
                print(
                    f"    {time.monotonic() - hold_started:4.0f} s: "
                    f"{samples[-1].rss_kib / KIB_PER_MIB:.1f} MiB, "
                    f"{samples[-1].caller_calls}/{samples[-1].callee_calls} calls up",
                    flush=True,
                )
        hold_cpu = cpu_seconds(pid) - hold_cpu
        while caller.poll() is None:
            sample()
            if time.monotonic() - started > call_seconds + ramp + 60:
                raise RuntimeError(f"the held calls did not end (logs: {sipp.workdir})")
            time.sleep(args.sample)
    finally:
        stop(caller)
    wait_until_idle(pid)
    return HoldResult(
        calls=args.calls,
        hold=args.hold,
        idle_kib=idle,
        samples=tuple(samples),
        peak_kib=max(peak, resident_kib(pid)),
        end_kib=resident_kib(pid),
        successful=sipp.stat("held", "SuccessfulCall(C)"),
        failed=sipp.stat("held", "FailedCall(C)"),
        hold_cpu_seconds=hold_cpu,
    )


def write_credentials(path: Path, accounts: int) -> None:
    # SIPp reads keywords in an injected field, but not one keyword inside another.
    lines = [
        "SEQUENTIAL",
        *(f"reg{i};[authentication username=reg{i} password={PASSWORD}]" for i in range(accounts)),
    ]
    path.write_text("\n".join(lines) + "\n")


def registration_storm(
    sipp: SoakSipp, pid: int, args: argparse.Namespace
) -> tuple[StormRound, StormRound]:
    """Every account registers, then every account refreshes its registration."""
    credentials = sipp.workdir / "accounts.csv"
    write_credentials(credentials, args.accounts)
    rounds = []
    for name, base_cseq in (("register", 1), ("refresh", REFRESH_CSEQ)):
        wait_until_idle(pid)
        started = time.monotonic()
        process = sipp.register(
            credentials, count=args.accounts, window=args.window, base_cseq=base_cseq, name=name
        )
        # A registration SIPp gives up on takes at most its 7 retransmissions (about 32 s).
        wait_for_exit(process, args.accounts / 10 + 120)
        elapsed = time.monotonic() - started
        retransmitted, rechallenged = sipp.registration_counts(process)
        storm_round = StormRound(
            name=name,
            accounts=args.accounts,
            successful=sipp.stat(name, "SuccessfulCall(C)"),
            failed=sipp.stat(name, "FailedCall(C)"),
            seconds=elapsed,
            rss_after_kib=resident_kib(pid),
            retransmitted=retransmitted,
            rechallenged=rechallenged,
        )
        print(
            f"  {name}: {storm_round.successful}/{args.accounts} in {elapsed:.1f} s "
            f"({storm_round.per_second:.0f}/s), {storm_round.failed} failed",
            flush=True,
        )
        rounds.append(storm_round)
    return rounds[0], rounds[1]


def count_bindings(accounts: int) -> Bindings:
    """What the database holds for ``reg0`` ... afterwards (Django set up by ``provision``)."""
    from django.db import connections
    from django.utils import timezone

    from sipplatform.directory.models import Binding

    current = Binding.objects.filter(
        account__username__startswith="reg", expires_at__gt=timezone.now()
    )
    found = Bindings(
        accounts_bound=current.values("account").distinct().count(),
        bindings=current.count(),
        refreshed=current.filter(cseq__gte=REFRESH_CSEQ).count(),
    )
    connections.close_all()
    return found


def mib(kib: int) -> str:
    return f"{kib / KIB_PER_MIB:.1f} MiB"


def report(args: argparse.Namespace, hold: HoldResult, storm, bindings: Bindings) -> list[str]:
    """Prints the figures; returns what failed (empty when the soak passed)."""
    problems = []
    bound_kib = int(args.max_growth_mib * KIB_PER_MIB)
    print()
    print(
        f"Held calls: {hold.calls} up for {hold.hold:g} s, memory sampled every {args.sample:g} s"
    )
    print(f"  worker resident memory, idle after warm-up  {mib(hold.idle_kib):>12}")
    print(f"  ... at the start of the hold ({hold.calls} up)   {mib(hold.hold_start_kib):>12}")
    print(f"  ... at the end of the hold               {mib(hold.hold_end_kib):>12}")
    print(f"  ... peak (whole run)                     {mib(hold.peak_kib):>12}")
    print(f"  ... after every call hung up             {mib(hold.end_kib):>12}")
    print(
        f"  growth over the hold: {hold.growth_kib / KIB_PER_MIB:+.1f} MiB "
        f"(bound {args.max_growth_mib:g} MiB)"
    )
    per_call = (hold.hold_start_kib - hold.idle_kib) / max(hold.calls, 1)
    print(f"  memory per call up: {per_call:.1f} KiB")
    print(f"  worker CPU during the hold: {hold.hold_cpu_seconds:.1f} s")
    print(f"  fewest calls up at any sample of the hold: {hold.fewest_up}")
    print(f"  calls completed: {hold.successful}, failed: {hold.failed}")
    if hold.growth_kib > bound_kib:
        problems.append(f"memory grew {hold.growth_kib} KiB over the hold (bound {bound_kib})")
    if hold.failed or hold.successful != hold.calls:
        problems.append(f"{hold.failed} calls failed, {hold.successful}/{hold.calls} completed")
    if hold.fewest_up < hold.calls:
        problems.append(f"only {hold.fewest_up} calls up at one point of the hold")
    print()
    print(f"Registration storm: {args.accounts} accounts, digest (MD5), {args.window} at a time")
    for storm_round in storm:
        print(
            f"  {storm_round.name:<9} {storm_round.per_second:7.0f} registrations/s "
            f"({storm_round.successful} in {storm_round.seconds:.1f} s), "
            f"{storm_round.failed} failed; worker at {mib(storm_round.rss_after_kib)} after"
        )
        print(
            f"            {storm_round.retransmitted} REGISTERs retransmitted, "
            f"{storm_round.rechallenged} answered again after a stale=true 401"
        )
        if storm_round.failed or storm_round.successful != args.accounts:
            problems.append(
                f"{storm_round.name}: {storm_round.successful}/{args.accounts} registered"
            )
    print(
        f"  in the database afterwards: {bindings.accounts_bound} accounts bound, "
        f"{bindings.bindings} bindings, {bindings.refreshed} refreshed by the second round"
    )
    if not bindings.accounts_bound == bindings.bindings == bindings.refreshed == args.accounts:
        problems.append(f"the database holds {bindings} for {args.accounts} accounts")
    print()
    print("FAILED: " + "; ".join(problems) if problems else "PASSED")
    return problems


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
    return value


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=positive_int, default=1000, help="calls held at once")
    parser.add_argument("--hold", type=positive_float, default=600.0, help="seconds held")
    parser.add_argument("--call-rate", type=positive_float, default=50.0, help="calls/s ramp")
    parser.add_argument("--sample", type=positive_float, default=5.0, help="seconds per sample")
    parser.add_argument(
        "--max-growth-mib",
        type=float,
        default=8.0,
        help="resident memory the worker may gain over the hold before the soak fails",
    )
    parser.add_argument("--accounts", type=positive_int, default=10_000, help="in the storm")
    parser.add_argument(
        "--window", type=positive_int, default=200, help="registrations in progress at once"
    )
    parser.add_argument(
        "--database", default=SOAK_DATABASE, help="PostgreSQL database (dropped, made, dropped)"
    )
    parser.add_argument(
        "--redis-database",
        type=int,
        default=SOAK_REDIS_DATABASE,
        help="Redis database the worker uses (flushed before and after)",
    )
    parser.add_argument(
        "--logs",
        type=Path,
        help="keep the worker's and SIPp's logs and statistics here (default: a scratch "
        "directory removed at the end)",
    )
    return parser.parse_args(argv)


@contextlib.contextmanager
def log_directory(kept: Path | None) -> Iterator[Path]:
    if kept is not None:
        kept.mkdir(parents=True, exist_ok=True)
        yield kept
        return
    with tempfile.TemporaryDirectory(prefix="sipsoak-") as scratch:
        yield Path(scratch)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(argv)
    if shutil.which("sipp") is None:
        raise SystemExit("SIPp is not installed: apt-get install sip-tester")
    ports = Ports.pick()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
    with log_directory(args.logs) as workdir:
        with platform_environment(workdir, args.redis_database, args.database) as env:
            env["SIP_LISTEN"] = f"udp:{HOST}:{ports.worker}"
            env["SIP_DIGEST_ALGORITHMS"] = "MD5,SHA-256"
            # The worker's record outbox (and secret key) here, not in the repository's var/
            # where another soak's or the suite's worker of the same id would hold it.
            env["SIPPLATFORM_VAR_DIR"] = str(workdir)
            print(f"provisioning {args.accounts} accounts", flush=True)
            provision(
                env,
                uas_port=ports.uas,
                accounts=args.accounts,
                concurrent_calls=max(args.calls, WARM_UP_CALLS),
            )
            print(
                f"worker: {env['DATABASE_URL'].split(':')[0]}, "
                f"{'Redis' if 'REDIS_URL' in env else 'in-process tasks'}, port {ports.worker}",
                flush=True,
            )
            sipp = SoakSipp(workdir, ports)
            uas = sipp.start_uas()
            try:
                with running_worker(env, workdir) as worker:
                    print(f"held calls: {args.calls} at {args.call_rate:g}/s", flush=True)
                    hold = hold_calls(sipp, worker.pid, args)
                    print(f"registration storm: {args.accounts} accounts", flush=True)
                    storm = registration_storm(sipp, worker.pid, args)
                    bindings = count_bindings(args.accounts)
            finally:
                stop(uas)
        problems = report(args, hold, storm, bindings)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
