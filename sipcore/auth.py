"""HTTP digest authentication for SIP (RFC 3261 §22, RFC 8760, RFC 7616)."""

import hashlib

ALGORITHMS = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}


def ha1(username: str, realm: str, password: str, algorithm: str = "MD5") -> str:
    """H(username:realm:password) in lowercase hex: what an account stores instead of its password."""
    digest = ALGORITHMS[algorithm]
    return digest(f"{username}:{realm}:{password}".encode()).hexdigest()
