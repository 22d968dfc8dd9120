"""The digest computations of RFC 7616 §3.4, as used by SIP (RFC 3261 §22.4, RFC 8760).

Only the non-session algorithms are implemented: SIP deployments do not use
the ``-sess`` variants, and the server never offers them. ``qop=auth-int`` is
not supported either (it would need the message body), so HA2 is always
``H(method:uri)``.
"""

from __future__ import annotations

import hashlib

# Digest algorithm token -> hashlib name, strongest first: the client prefers them in this order.
ALGORITHMS: dict[str, str] = {"SHA-512-256": "sha512_256", "SHA-256": "sha256", "MD5": "md5"}

_CANONICAL = {name.upper(): name for name in ALGORITHMS}


def canonical_algorithm(name: str | None) -> str | None:
    """The registered spelling of an algorithm token (case-insensitive), or None if unsupported.

    An absent ``algorithm`` parameter means MD5 (RFC 7616 §3.3), so ``None`` maps to ``"MD5"``.
    """
    if name is None:
        return "MD5"
    return _CANONICAL.get(name.upper())


def hash_hex(algorithm: str, text: str) -> str:
    """H(text): the algorithm's digest of the UTF-8 text, in lowercase hex."""
    return hashlib.new(ALGORITHMS[algorithm], text.encode()).hexdigest()


def ha1(username: str, realm: str, password: str, algorithm: str = "MD5") -> str:
    """H(username:realm:password) in lowercase hex: what an account stores, not the password."""
    return hash_hex(algorithm, f"{username}:{realm}:{password}")


def request_digest(
    *,
    algorithm: str,
    ha1: str,
    nonce: str,
    method: str,
    uri: str,
    qop: str | None = None,
    nc: int | None = None,
    cnonce: str | None = None,
) -> str:
    """The ``response`` value: KD(HA1, nonce:nc:cnonce:qop:HA2), or KD(HA1, nonce:HA2) without qop.

    Without ``qop`` this is the RFC 2069 form, which has neither ``nc`` nor ``cnonce``.
    """
    ha2 = hash_hex(algorithm, f"{method}:{uri}")
    if qop is None:
        return hash_hex(algorithm, f"{ha1}:{nonce}:{ha2}")
    if nc is None or cnonce is None:
        raise ValueError("qop requires both nc and cnonce")
    return hash_hex(algorithm, f"{ha1}:{nonce}:{format_nc(nc)}:{cnonce}:{qop}:{ha2}")


def format_nc(nc: int) -> str:
    """The nonce count as its wire form: exactly eight lowercase hex digits."""
    return f"{nc:08x}"
