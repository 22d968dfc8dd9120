"""Helpers shared by the test suites of every package: waiting for a condition, picking ports.

Test code only; nothing in the platform imports it. It imports no Django, so the SIP stack's
tests can use it as well as the Django apps' tests.
"""

from sipcore.testing.ports import free_port, port_is_free
from sipcore.testing.waiting import eventually, wait_until

__all__ = ["eventually", "free_port", "port_is_free", "wait_until"]
