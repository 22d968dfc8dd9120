"""Digest authentication for SIP (RFC 3261 §22, RFC 7616, RFC 8760); sans-I/O, no Django.

``ha1`` is what accounts store. ``DigestServer`` challenges and verifies
(registrar: 401 + ``WWW-Authenticate``; proxy: 407 + ``Proxy-Authenticate``;
``CHALLENGE_HEADERS`` / ``CREDENTIALS_HEADERS`` map the status to the header
names) and returns ``Accepted`` or ``Rejected`` values; ``DigestClient``
answers challenges; ``parse_challenges`` / ``parse_credentials`` read header
values, raising only ``AuthHeaderError``. Time is always passed in as ``now``.
"""

from sipcore.auth.client import CredentialsRejected, DigestClient, NoUsableChallenge
from sipcore.auth.digest import ALGORITHMS, canonical_algorithm, ha1, request_digest
from sipcore.auth.headers import (
    CHALLENGE_HEADERS,
    CREDENTIALS_HEADERS,
    AuthHeaderError,
    Challenge,
    Credentials,
    DigestChallenge,
    DigestCredentials,
    OtherScheme,
    parse_challenges,
    parse_credentials,
)
from sipcore.auth.nonce import MemoryNonceCounterStore, NonceCounterStore, NonceSigner
from sipcore.auth.server import (
    Accepted,
    DigestAttempt,
    DigestServer,
    Ha1Lookup,
    Rejected,
    RejectReason,
    password_lookup,
)

__all__ = [
    "ALGORITHMS",
    "CHALLENGE_HEADERS",
    "CREDENTIALS_HEADERS",
    "Accepted",
    "AuthHeaderError",
    "Challenge",
    "Credentials",
    "CredentialsRejected",
    "DigestAttempt",
    "DigestChallenge",
    "DigestClient",
    "DigestCredentials",
    "DigestServer",
    "Ha1Lookup",
    "MemoryNonceCounterStore",
    "NoUsableChallenge",
    "NonceCounterStore",
    "NonceSigner",
    "OtherScheme",
    "RejectReason",
    "Rejected",
    "canonical_algorithm",
    "ha1",
    "parse_challenges",
    "parse_credentials",
    "password_lookup",
    "request_digest",
]
