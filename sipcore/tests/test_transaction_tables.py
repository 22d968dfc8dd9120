"""The transition tables, timer durations, generated diagrams and layer purity."""

import subprocess
import sys

import pytest

from sipcore.errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from sipcore.transaction import Timer, TimerConfig
from sipcore.transaction.diagrams import DEFAULT_PATH, render
from sipcore.transaction.tables import MACHINES, Effect, Input, Start, State, lookup


def test_unknown_pair_is_a_local_protocol_error():
    with pytest.raises(LocalProtocolError, match=r"INVITE client .* Calling cannot handle Timer K"):
        lookup("INVITE client", State.CALLING, Timer.K)
    with pytest.raises(LocalProtocolError, match="Terminated"):
        lookup("non-INVITE server", State.TERMINATED, Input.REQUEST)


@pytest.mark.parametrize("name", list(MACHINES))
def test_every_live_state_reports_transport_errors_to_the_tu(name):
    initial, table = MACHINES[name]
    states = {initial.target} | {state for state, _ in table} | {t.target for t in table.values()}
    for state in states - {State.TERMINATED}:
        transition = lookup(name, state, Input.TRANSPORT_ERROR)
        assert transition.steps == (Effect.TRANSPORT_FAILED,)
        # RFC 6026 Figure 7: only the INVITE server transaction survives the error.
        survives = name == "INVITE server"
        assert (transition.target is state) is survives
    assert State.TERMINATED in {t.target for t in table.values()}
    assert not any(state is State.TERMINATED for state, _ in table)


@pytest.mark.parametrize("name", list(MACHINES))
def test_every_started_timer_has_a_firing_entry(name):
    initial, table = MACHINES[name]
    started = {
        step.timer
        for transition in [initial, *table.values()]
        for step in transition.steps
        if isinstance(step, Start)
    }
    handled = {event for _, event in table if isinstance(event, Timer)}
    assert started == handled


@pytest.mark.parametrize(
    ("timer", "udp", "tcp"),
    [
        (Timer.A, 0.5, 0.5),
        (Timer.B, 32.0, 32.0),
        (Timer.D, 32.0, 0.0),
        (Timer.E, 0.5, 0.5),
        (Timer.F, 32.0, 32.0),
        (Timer.G, 0.5, 0.5),
        (Timer.H, 32.0, 32.0),
        (Timer.I, 5.0, 0.0),
        (Timer.J, 32.0, 0.0),
        (Timer.K, 5.0, 0.0),
        (Timer.L, 32.0, 32.0),
        (Timer.M, 32.0, 32.0),
        (Timer.TRYING, 0.2, 0.2),
    ],
)
def test_rfc3261_table_4_durations(timer, udp, tcp):
    config = TimerConfig()
    assert config.standard(timer, reliable=False) == udp
    assert config.standard(timer, reliable=True) == tcp


def test_durations_scale_with_t1_t2_t4():
    config = TimerConfig(t1=0.1, t2=1.0, t4=2.0, timer_d=40.0)
    assert config.standard(Timer.B, reliable=False) == pytest.approx(6.4)
    assert config.standard(Timer.K, reliable=False) == 2.0
    assert config.standard(Timer.D, reliable=False) == 40.0


@pytest.mark.parametrize(
    "kwargs", [{"t1": 0}, {"t2": -1}, {"t4": "5"}, {"t1": 5.0, "t2": 4.0}, {"timer_d": 0}]
)
def test_timer_config_rejects_nonsense(kwargs):
    with pytest.raises(LocalProtocolError):
        TimerConfig(**kwargs)


def test_error_kinds_carry_a_status_hint():
    assert RemoteProtocolError("bad CSeq", status_hint=500).status_hint == 500
    assert LocalProtocolError("oops").status_hint == 400
    with pytest.raises(TypeError):
        ProtocolError("abstract")


def test_state_document_is_generated_from_the_tables():
    assert DEFAULT_PATH.read_text() == render(), (
        "docs/transaction-states.md is stale: run python -m sipcore.transaction.diagrams"
    )


def test_transaction_and_dialog_layers_do_no_io_and_import_no_django():
    code = (
        "import sys, sipcore.transaction, sipcore.dialog\n"
        "bad = {'asyncio', 'socket', 'django', 'selectors'} & set(sys.modules)\n"
        "print(sorted(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_no_clock_is_read_inside_the_protocol_layers():
    root = DEFAULT_PATH.parents[1] / "sipcore"
    sources = [*(root / "transaction").glob("*.py"), *(root / "dialog").glob("*.py")]
    assert len(sources) > 10
    for path in sources:
        text = path.read_text()
        for forbidden in (
            "import time",
            "from time ",
            "time.time(",
            "time.monotonic(",
            "import asyncio",
            "import socket",
        ):
            assert forbidden not in text, f"{path.name} mentions {forbidden!r}"
