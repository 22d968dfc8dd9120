"""Ports for tests that must name one before binding it (a process told ``--listen``).

Each suite takes ports from its own range (team rule) so suites running at the same time on
the shared machine do not collide; a test that can bind port 0 and read it back should.
"""

from __future__ import annotations

import random
import socket


def free_port(ports: range, *taken: int) -> int:
    """A port of ``ports`` that nothing uses on 127.0.0.1 over TCP or UDP (SIP takes both).

    ``taken`` are ports already handed out for the same test and not bound yet.
    """
    candidates = [port for port in ports if port not in taken]
    random.shuffle(candidates)
    for port in candidates:
        if port_is_free(port):
            return port
    raise RuntimeError(f"no free port in {ports.start}-{ports.stop - 1}")


def port_is_free(port: int) -> bool:
    """Nothing is bound to ``port`` on 127.0.0.1, TCP or UDP (SIP takes both)."""
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True
