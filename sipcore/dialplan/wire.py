"""The messages between the worker and a sandbox process: one JSON object per line.

Worker to sandbox: ``eval`` (start a script), ``reply`` (the answer to a ``sys.*`` call),
``abort`` (the caller went away), ``ping``. Sandbox to worker: ``call`` (a ``sys.*`` call
waiting for its reply), ``done`` (an evaluation ended), ``pong``, and first of all ``ready``
(its limits are in force).
"""

from __future__ import annotations

import json
from typing import Any

MAX_LINE_BYTES = 1024 * 1024

Message = dict[str, Any]


class WireError(ValueError):
    """A line that is not a protocol message."""


def encode(message: Message) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=True).encode() + b"\n"


def decode(line: bytes) -> Message:
    try:
        message = json.loads(line)
    except ValueError as error:
        raise WireError(f"not JSON: {line[:80]!r}") from error
    if not isinstance(message, dict) or not isinstance(message.get("op"), str):
        raise WireError(f"not a message: {line[:80]!r}")
    return message
