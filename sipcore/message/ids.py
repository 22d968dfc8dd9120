"""Fresh, unguessable identifiers: Via branches, From/To tags and Call-IDs.

They come from ``secrets`` because a predictable branch or tag lets an
off-path attacker forge CANCELs and in-dialogue requests.
"""

from __future__ import annotations

import secrets

MAGIC_COOKIE = "z9hG4bK"


def new_branch() -> str:
    """A Via branch that starts with the RFC 3261 magic cookie and is unique in time and space."""
    return MAGIC_COOKIE + secrets.token_hex(12)


def new_tag() -> str:
    """A From or To tag (RFC 3261 §19.3: at least 32 bits of randomness)."""
    return secrets.token_hex(8)


def new_call_id(host: str | None = None) -> str:
    """A globally unique Call-ID, optionally ``random@host``."""
    local = secrets.token_hex(16)
    return f"{local}@{host}" if host else local
