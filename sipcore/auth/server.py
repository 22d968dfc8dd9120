"""The registrar's and proxy's side of digest authentication: challenge, then verify.

``DigestServer`` offers SHA-256 and MD5 together (RFC 8760 §2.4: strongest
first), always with ``qop="auth"`` and an ``opaque``, using stateless signed
nonces (``sipcore.auth.nonce``) so any worker can verify what another issued.

Verification is two steps so an asyncio caller can fetch the stored HA1
between them without blocking: ``examine()`` checks everything that does not
depend on the account and says whose HA1 to look up; ``decide()`` compares the
response. ``verify()`` does both around a synchronous lookup. ``decide()`` and
``verify()`` are coroutines because recording the nonce count may go to a
shared store (Redis) that every worker sees. An unknown
account is given a decoy HA1 and goes through exactly the same computation
as a wrong password, with the same result, so responses reveal nothing about
which accounts exist (svwar learns nothing).

Every outcome is a value, never an exception: ``Accepted`` or ``Rejected``
with a reason and the claimed username, so the caller can count failures per
source address and per account (``Rejected.is_failure``) and decide on bans.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sipcore.auth.digest import canonical_algorithm, ha1, hash_hex, request_digest
from sipcore.auth.headers import (
    AuthHeaderError,
    DigestChallenge,
    DigestCredentials,
    parse_credentials,
)
from sipcore.auth.nonce import MemoryNonceCounterStore, NonceCounterStore, NonceSigner

# (username, realm, algorithm) -> the stored HA1 for that algorithm, or None: no such account.
Ha1Lookup = Callable[[str, str, str], str | None]


def password_lookup(passwords: Mapping[str, str]) -> Ha1Lookup:
    """An ``Ha1Lookup`` over clear passwords by username: for the demo UAS and test peers,
    which have no stored HA1s (platform accounts keep only HA1s)."""

    def lookup(username: str, realm: str, algorithm: str) -> str | None:
        password = passwords.get(username)
        return None if password is None else ha1(username, realm, password, algorithm)

    return lookup


class RejectReason(StrEnum):
    """Why credentials were not accepted."""

    MISSING = "missing"  # no Digest credentials for this realm: the usual first try
    MALFORMED = "malformed"
    UNSUPPORTED = "unsupported"  # an algorithm or qop we did not offer
    URI_MISMATCH = "uri-mismatch"
    OPAQUE_MISMATCH = "opaque-mismatch"
    NONCE_INVALID = "nonce-invalid"  # not signed by us for this realm: forged, altered or foreign
    BAD_CREDENTIALS = "bad-credentials"  # wrong password or unknown user, deliberately alike
    NONCE_EXPIRED = "nonce-expired"  # right credentials, old nonce: challenge again with stale=true
    NC_REPLAY = "nc-replay"  # this nonce was already used with this nc


@dataclass(frozen=True, slots=True, kw_only=True)
class Accepted:
    """The request is authenticated as ``username`` in ``realm``."""

    username: str
    realm: str
    algorithm: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejected:
    """The request is not authenticated; answer with a new challenge carrying ``stale``.

    ``username`` is the name the credentials claimed (None if there were none
    readable): it is not proof the account exists.
    """

    reason: RejectReason
    stale: bool = False
    username: str | None = None

    @property
    def is_failure(self) -> bool:
        """Whether this counts as a failed attempt for brute-force accounting.

        Missing credentials are the normal first step of every exchange, and
        stale answers come from clients that knew the password.
        """
        return self.reason is not RejectReason.MISSING and not self.stale


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestAttempt:
    """Credentials that passed every account-independent check; look up the HA1 for these."""

    username: str
    realm: str
    algorithm: str
    method: str
    credentials: DigestCredentials
    expired: bool


class DigestServer:
    """Builds digest challenges and verifies the credentials that answer them.

    ``secret`` (shared by every worker, at least 16 bytes) signs nonces;
    ``old_secrets`` still verify while a rotation rolls out. A nonce is good
    from ``clock_skew`` seconds before its issue time (another worker's clock
    may run ahead) to ``nonce_lifetime`` after it, so ``counter_store`` must
    remember a nonce for ``nonce_lifetime + clock_skew`` after its first use.
    It defaults to an in-process ``MemoryNonceCounterStore``; workers that
    share load need a shared one. ``allow_rfc2069`` accepts answers without ``qop``
    (old clients), which cannot be protected against replay within the nonce
    lifetime.
    """

    def __init__(
        self,
        *,
        secret: bytes,
        old_secrets: Sequence[bytes] = (),
        algorithms: Sequence[str] = ("SHA-256", "MD5"),
        nonce_lifetime: float = 300.0,
        clock_skew: float = 5.0,
        counter_store: NonceCounterStore | None = None,
        allow_rfc2069: bool = False,
    ) -> None:
        canonical = [canonical_algorithm(name) for name in algorithms]
        if not canonical or None in canonical or list(canonical) != list(algorithms):
            raise ValueError(f"unsupported or non-canonical algorithms: {list(algorithms)}")
        self.algorithms: tuple[str, ...] = tuple(algorithms)
        self.nonce_lifetime = nonce_lifetime
        self.clock_skew = clock_skew
        self.allow_rfc2069 = allow_rfc2069
        self._signer = NonceSigner(secret, old_secrets=old_secrets)
        if counter_store is None:
            counter_store = MemoryNonceCounterStore(lifetime=nonce_lifetime + clock_skew)
        self._counters = counter_store

    def challenge(self, realm: str, *, now: float, stale: bool = False) -> list[str]:
        """The challenge header values for a 401 (``WWW-Authenticate``) or 407 (``Proxy-...``).

        One value per algorithm, strongest first, sharing one nonce. ``now`` is Unix time.
        """
        nonce = self._signer.mint(realm, now=now)
        opaque = _opaque(self._signer.secret, realm)
        return [
            str(
                DigestChallenge(
                    realm=realm,
                    nonce=nonce,
                    algorithm=algorithm,
                    qop=("auth",),
                    opaque=opaque,
                    stale=stale,
                )
            )
            for algorithm in self.algorithms
        ]

    async def verify(
        self,
        authorization: Sequence[str],
        *,
        method: str,
        uri: str,
        realm: str,
        lookup: Ha1Lookup,
        now: float,
    ) -> Accepted | Rejected:
        """``examine()`` then ``decide()`` with the HA1 ``lookup`` returns."""
        attempt = self.examine(authorization, method=method, uri=uri, realm=realm, now=now)
        if isinstance(attempt, Rejected):
            return attempt
        ha1 = lookup(attempt.username, attempt.realm, attempt.algorithm)
        return await self.decide(attempt, ha1)

    def examine(
        self, authorization: Sequence[str], *, method: str, uri: str, realm: str, now: float
    ) -> DigestAttempt | Rejected:
        """Check the parts of the credentials that do not depend on the account.

        ``authorization`` holds every ``Authorization`` (or ``Proxy-Authorization``)
        value of the request; the first Digest one for ``realm`` is used.
        ``uri`` is the Request-URI exactly as the request line carried it.
        """
        credentials, malformed = _select(authorization, realm)
        if credentials is None:
            return Rejected(reason=RejectReason.MALFORMED if malformed else RejectReason.MISSING)
        username = credentials.username
        algorithm = canonical_algorithm(credentials.algorithm)
        if algorithm not in self.algorithms or not self._qop_acceptable(credentials.qop):
            return Rejected(reason=RejectReason.UNSUPPORTED, username=username)
        if credentials.uri != uri:
            return Rejected(reason=RejectReason.URI_MISMATCH, username=username)
        nonce = self._signer.verify(credentials.nonce, realm)
        if nonce is None:
            return Rejected(reason=RejectReason.NONCE_INVALID, username=username)
        if credentials.opaque != _opaque(nonce.secret, realm):
            return Rejected(reason=RejectReason.OPAQUE_MISMATCH, username=username)
        age = now - nonce.issued_at
        return DigestAttempt(
            username=username,
            realm=realm,
            algorithm=algorithm,
            method=method,
            credentials=credentials,
            expired=not -self.clock_skew <= age <= self.nonce_lifetime,
        )

    async def decide(self, attempt: DigestAttempt, ha1: str | None) -> Accepted | Rejected:
        """Compare the response with the one ``ha1`` gives; None means no such account.

        A missing account is checked against a decoy HA1 so the work, and the
        answer, are those of a wrong password. The nonce count is recorded only
        once the response is right, so nobody without the password can burn a
        legitimate client's counts.
        """
        credentials = attempt.credentials
        decoy = self._decoy_ha1(attempt)
        expected = request_digest(
            algorithm=attempt.algorithm,
            ha1=decoy if ha1 is None else ha1.lower(),
            nonce=credentials.nonce,
            method=attempt.method,
            uri=credentials.uri,
            qop=credentials.qop,
            nc=credentials.nc,
            cnonce=credentials.cnonce,
        )
        matches = hmac.compare_digest(expected.encode(), credentials.response.lower().encode())
        username = attempt.username
        if not matches or ha1 is None:
            return Rejected(reason=RejectReason.BAD_CREDENTIALS, username=username)
        if attempt.expired:
            return Rejected(reason=RejectReason.NONCE_EXPIRED, stale=True, username=username)
        if credentials.nc is not None and not await self._counters.check_and_record(
            credentials.nonce, credentials.nc
        ):
            return Rejected(reason=RejectReason.NC_REPLAY, stale=True, username=username)
        return Accepted(username=username, realm=attempt.realm, algorithm=attempt.algorithm)

    def _qop_acceptable(self, qop: str | None) -> bool:
        return qop == "auth" or (qop is None and self.allow_rfc2069)

    def _decoy_ha1(self, attempt: DigestAttempt) -> str:
        key = f"{attempt.username}:{attempt.realm}".encode()
        seed = hmac.new(self._signer.secret, key, hashlib.sha256).hexdigest()
        return hash_hex(attempt.algorithm, seed)


def _select(values: Sequence[str], realm: str) -> tuple[DigestCredentials | None, bool]:
    """The first Digest credentials for ``realm``, and whether any value was malformed."""
    if isinstance(values, str):
        raise TypeError("pass every header value as a sequence of str, not one str")
    malformed = False
    for value in values:
        try:
            credentials = parse_credentials(value)
        except AuthHeaderError:
            malformed = True
            continue
        if isinstance(credentials, DigestCredentials) and credentials.realm == realm:
            return credentials, malformed
    return None, malformed


def _opaque(secret: bytes, realm: str) -> str:
    """A per-realm opaque value; clients must echo it (RFC 7616 §3.3)."""
    mac = hmac.new(secret, b"opaque:" + realm.encode(), hashlib.sha256).digest()[:12]
    return base64.urlsafe_b64encode(mac).decode("ascii")
