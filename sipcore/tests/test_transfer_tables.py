"""The transfer tables are complete and consistent, and the transfer package does no I/O."""

import subprocess
import sys
from pathlib import Path

import pytest

from sipcore.errors import LocalProtocolError
from sipcore.transfer.diagrams import DEFAULT_PATH, render
from sipcore.transfer.process import TransferProcess
from sipcore.transfer.tables import TERMINAL, TRANSITIONS, Flow, In, State, transition

PACKAGE = Path(__file__).resolve().parents[1] / "transfer"


def test_every_effect_named_in_the_tables_exists():
    for table in TRANSITIONS.values():
        for (_, _), (_, effect) in table.items():
            assert callable(getattr(TransferProcess, f"_effect_{effect}", None)), effect


def test_no_transition_leaves_a_terminal_state():
    for table in TRANSITIONS.values():
        assert not [key for key in table if key[0] in TERMINAL]


def test_every_non_terminal_state_reached_after_acceptance_survives_both_byes():
    for flow in (Flow.BLIND, Flow.ATTENDED, Flow.TAKEOVER, Flow.PASS_THROUGH):
        table = TRANSITIONS[flow]
        states = {state for state, _ in table} - TERMINAL
        for state in states:
            assert (state, In.TRANSFEROR_GONE) in table, (flow, state)
            assert (state, In.TRANSFEREE_GONE) in table, (flow, state)


def test_a_pair_missing_from_the_table_is_our_bug():
    with pytest.raises(LocalProtocolError, match="cannot handle"):
        transition(Flow.BLIND, State.CALLING_TARGET, In.REINVITE_ACCEPTED)


def test_the_transfer_package_does_no_io_and_reads_no_clock():
    code = (
        "import sys, sipcore.transfer\n"
        "bad = {'asyncio', 'socket', 'django', 'selectors'} & set(sys.modules)\n"
        "print(sorted(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    for path in PACKAGE.glob("*.py"):
        text = path.read_text()
        for forbidden in ("import time", "time.time(", "time.monotonic(", "import asyncio"):
            assert forbidden not in text, f"{path.name} mentions {forbidden!r}"


def test_the_state_document_is_current():
    assert DEFAULT_PATH.read_text() == render(), (
        "sipcore/transfer/states.md is stale: run python -m sipcore.transfer.diagrams"
    )
