"""The gate against SIPVicious's own requests.

The unit tests feed the gate the exact bytes svwar, svcrack and svmap sent to a listener
(``sipvicious/*.sip``, see its README). The real tests run svwar and svcrack against a small
UDP listener on 127.0.0.1:19060 and check the tools still send what those files hold, so
the unit tests keep testing what the attackers' tools really do.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from sipcore.auth import DigestCredentials, parse_credentials
from sipcore.message import Request, make_response, parse_message
from sipcore.security import DropReason, GateConfig, SecurityGate, Verdict

CAPTURES = Path(__file__).parent / "sipvicious"
SOURCE = "203.0.113.9"  # the scanner seen from outside (loopback is exempt from bans)
LISTEN_PORT = 19060


def captured(name: str) -> Request:
    message = parse_message((CAPTURES / name).read_bytes())
    assert isinstance(message, Request)
    return message


ALL_CAPTURES = sorted(path.name for path in CAPTURES.glob("*.sip"))


def test_every_capture_is_there_and_parses():
    assert ALL_CAPTURES == [
        "svcrack_register.sip",
        "svcrack_register_credentials.sip",
        "svmap_options.sip",
        "svwar_register_100.sip",
        "svwar_register_probe.sip",
    ]


@pytest.mark.parametrize("name", ALL_CAPTURES)
def test_each_sipvicious_request_is_dropped_as_a_scanner(name):
    decision = SecurityGate().check(captured(name), SOURCE, 0.0)
    assert decision.verdict is Verdict.DROP_AND_PUBLISH
    assert decision.reason is DropReason.SCANNER
    assert decision.scanner == "sipvicious"


def test_svmap_is_recognised_by_its_from_header_even_with_another_user_agent():
    options = captured("svmap_options.sip")
    options.headers.set("User-Agent", "Asterisk PBX 20")
    assert SecurityGate().check(options, SOURCE, 0.0).scanner == "sipvicious"


def test_an_svwar_sweep_is_announced_once_then_dropped_quietly():
    gate = SecurityGate()
    sweep = ["svwar_register_probe.sip", "svwar_register_100.sip", "svwar_register_100.sip"]
    decisions = [gate.check(captured(name), SOURCE, float(i)) for i, name in enumerate(sweep)]
    assert [d.verdict for d in decisions] == [
        Verdict.DROP_AND_PUBLISH,
        Verdict.DROP,
        Verdict.DROP,
    ]
    event = decisions[0].event
    assert event is not None
    assert (event.kind, event.data["tool"], event.data["method"]) == (
        "security.scanner",
        "sipvicious",
        "REGISTER",
    )


def test_with_scanner_dropping_off_svcrack_reaches_the_registrar_with_countable_credentials():
    """What the registrar sees from a disguised svcrack: one guess per REGISTER retry."""
    gate = SecurityGate(GateConfig(drop_scanners=False))
    first, guess = captured("svcrack_register.sip"), captured("svcrack_register_credentials.sip")
    assert gate.check(first, SOURCE, 0.0).verdict is Verdict.ALLOW
    assert gate.check(guess, SOURCE, 0.0).verdict is Verdict.ALLOW
    credentials = parse_credentials(guess.headers.get("Authorization") or "")
    assert isinstance(credentials, DigestCredentials)
    assert (credentials.username, credentials.realm, credentials.qop) == (
        "100",
        "127.0.0.1",
        "auth",
    )
    assert guess.call_id == first.call_id and guess.cseq.seq == first.cseq.seq + 1


# Live captures ----------------------------------------------------------------------------


class Listener:
    """A UDP socket answering every request like a naive server would, and keeping them."""

    def __init__(self, status: int, challenge: str | None = None) -> None:
        self.status = status
        self.challenge = challenge
        self.requests: list[bytes] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", LISTEN_PORT))
        self.sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> Listener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            self.requests.append(data)
            request = parse_message(data)
            if not isinstance(request, Request) or request.method == "ACK":
                continue
            has_credentials = "Authorization" in request.headers
            response = make_response(request, 403 if has_credentials else self.status)
            if self.challenge and not has_credentials:
                response.headers.add("WWW-Authenticate", self.challenge)
            self.sock.sendto(response.to_bytes(), addr)


def run_tool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which(args[0]) or str(Path(sys.executable).parent / args[0])
    if not Path(tool).exists():
        pytest.skip(f"{args[0]} is not installed (pip install sipvicious==0.3.8)")
    return subprocess.run([tool, *args[1:]], capture_output=True, text=True, timeout=60)


@pytest.mark.real
def test_svwar_still_sends_the_captured_register_sweep():
    with Listener(404) as listener:
        run_tool(
            "sipvicious_svwar",
            *("-b", "127.0.0.1", "-x", "127.0.0.1", "-P", "19391", "-p", str(LISTEN_PORT)),
            *("-e", "100-102", "127.0.0.1"),
        )
    requests = [parse_message(data) for data in listener.requests]
    assert all(isinstance(r, Request) and r.method == "REGISTER" for r in requests)
    users = [r.to_addr.uri.user for r in requests]
    assert {"100", "101", "102"} <= set(users)
    reference = captured("svwar_register_100.sip")
    sent_100 = next(r for r in requests if r.to_addr.uri.user == "100")
    for name in ("User-Agent", "Accept", "Max-Forwards", "Contact"):
        assert sent_100.headers.get(name) == reference.headers.get(name), name
    gate = SecurityGate()
    assert all(gate.check(r, SOURCE, 0.0).reason is DropReason.SCANNER for r in requests)


@pytest.mark.real
def test_svcrack_still_sends_the_captured_guesses():
    challenge = 'Digest realm="127.0.0.1", nonce="abc123", algorithm=MD5, qop="auth", opaque="x"'
    with Listener(401, challenge) as listener:
        run_tool(
            "sipvicious_svcrack",
            *("-b", "127.0.0.1", "-x", "127.0.0.1", "-P", "19392", "-p", str(LISTEN_PORT)),
            *("-u", "100", "-r", "1000-1002", "127.0.0.1"),
        )
    requests = [parse_message(data) for data in listener.requests]
    guesses = [r for r in requests if isinstance(r, Request) and "Authorization" in r.headers]
    assert len(guesses) == 4  # the username itself, then 1000, 1001, 1002
    reference = captured("svcrack_register_credentials.sip")
    assert {g.headers.get("User-Agent") for g in guesses} == {reference.headers.get("User-Agent")}
    assert all(g.method == "REGISTER" and g.to_addr.uri.user == "100" for g in guesses)
    gate = SecurityGate()
    assert all(gate.check(g, SOURCE, 0.0).reason is DropReason.SCANNER for g in requests)
