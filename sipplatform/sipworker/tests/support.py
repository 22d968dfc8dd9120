"""Helpers for tests that run the SIP worker as a process: ports, output, a SIP probe.

Ports come from this suite's range, 18000-18999, checked free for UDP and TCP alike.
"""

from __future__ import annotations

import random
import socket
import subprocess
import sys
import time
from pathlib import Path

from sipcore.message import Response, new_branch, new_call_id, new_tag, parse_message

REPO = Path(__file__).resolve().parents[3]
PORT_RANGE = range(18000, 19000)


def free_port(*taken: int) -> int:
    """A port of this suite's range that is free for both UDP and TCP on 127.0.0.1.

    ``taken`` are ports already handed out for the same test and not bound yet.
    """
    candidates = [port for port in PORT_RANGE if port not in taken]
    random.shuffle(candidates)
    for port in candidates:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, socket.socket() as tcp:
            try:
                udp.bind(("127.0.0.1", port))
                tcp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORT_RANGE.start}-{PORT_RANGE.stop - 1}")


def manage_py(*args: str) -> list[str]:
    return [sys.executable, str(REPO / "manage.py"), *args]


def wait_for_output(log: Path, text: str, process: subprocess.Popen, timeout: float = 60.0) -> str:
    """The process's output once it contains ``text``; fails early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        output = log.read_text()
        if text in output:
            return output
        if process.poll() is not None:
            raise AssertionError(f"{process.args} exited with {process.returncode}:\n{output}")
        time.sleep(0.1)
    raise AssertionError(f"no {text!r} within {timeout} s:\n{log.read_text()}")


def options_probe(port: int, timeout: float = 5.0) -> Response:
    """Send one OPTIONS to ``udp:127.0.0.1:port`` and return the final response."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(timeout)
        local_port = sock.getsockname()[1]
        request = (
            f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{local_port};branch={new_branch()};rport\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:probe@127.0.0.1:{local_port}>;tag={new_tag()}\r\n"
            f"To: <sip:127.0.0.1:{port}>\r\n"
            f"Call-ID: {new_call_id()}\r\n"
            "CSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        sock.sendto(request.encode(), ("127.0.0.1", port))
        deadline = time.monotonic() + timeout
        while True:
            data, _ = sock.recvfrom(65535)
            message = parse_message(data)
            if isinstance(message, Response) and message.status >= 200:
                return message
            if time.monotonic() > deadline:
                raise TimeoutError(f"no final response to OPTIONS from port {port}")
