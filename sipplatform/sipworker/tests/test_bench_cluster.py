"""The cluster benchmark's accounting (a check of ``make bench``'s tools, not a measurement):
CPU is counted over a process and everything it started, and the report gives each worker
count's rate as a multiple of one worker's from the same run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from sipplatform.sipworker.bench_cluster import (
    CallCost,
    ClusterFigures,
    report,
    tree_cpu_seconds,
)

SPIN = (
    "import time\n"
    "end = time.process_time() + 0.5\n"
    "while time.process_time() < end: pass\n"
    "time.sleep(30)\n"
)


def test_cpu_is_counted_over_a_process_and_its_children():
    """The parent only sleeps; its child spins 0.5 s of CPU, then sleeps too. /proc counts in
    clock ticks, so the check leaves room for a tick or two of rounding."""
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {SPIN!r}])\n",
        ],
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        while tree_cpu_seconds(parent.pid) < 0.45 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert tree_cpu_seconds(parent.pid) >= 0.45
    finally:
        os.killpg(parent.pid, signal.SIGKILL)
        parent.wait()


def test_the_report_scales_every_count_against_one_worker(capsys):
    cost = CallCost(workers=4.0, front_door=0.5, sipp=0.5)
    results = [
        ClusterFigures(workers=1, calls_per_second=150, failure_ratio=0.0, cost=cost),
        ClusterFigures(workers=2, calls_per_second=255, failure_ratio=0.0, cost=cost),
    ]

    class Args:
        duration, cpu_rate = 30.0, 100

    report(results, Args())
    lines = capsys.readouterr().out.splitlines()
    assert lines[-3].split()[:3] == ["1", "150", "1.00x"]
    assert lines[-2].split()[:3] == ["2", "255", "1.70x"]
    assert lines[-2].split()[-1] == "1.27"  # 255 calls/s at 5 ms each
