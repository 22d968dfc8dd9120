"""The user agent's side of digest authentication: answer 401/407 challenges.

Used by the outbound registration agent and by anything sending requests to
a provider. ``DigestClient`` walks every challenge of a response, keeps those
it can answer (Digest, an algorithm it knows, ``qop`` auth or none, the
expected realm, and secret material for that algorithm) and answers the
strongest. RFC 8760 §2.4 suggests the topmost supported challenge "unless a
local policy dictates otherwise"; our local policy is the strongest, whatever
order the server lists them in. It keeps the last
answered nonce so later requests can reuse it with increasing ``nc`` instead
of drawing a fresh challenge each time.

A challenge that arrives in reply to a request which already carried our
credentials means the password was refused, unless it says ``stale=true``
(the nonce merely expired): then it is answered again with the new nonce.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sipcore.auth.digest import ALGORITHMS, canonical_algorithm, ha1, request_digest
from sipcore.auth.headers import (
    AuthHeaderError,
    DigestChallenge,
    DigestCredentials,
    parse_challenges,
)


class NoUsableChallenge(Exception):
    """No challenge in the response is one this client can answer."""


class CredentialsRejected(Exception):
    """The server challenged a request that already carried our credentials, without stale=true."""


@dataclass(slots=True)
class _Session:
    challenge: DigestChallenge
    algorithm: str
    nc: int = 0


def _strength(algorithm: str) -> int:
    return -list(ALGORITHMS).index(algorithm)


class DigestClient:
    """Answers digest challenges for one account.

    Give either ``password`` or ``ha1s`` (algorithm -> stored HA1); with HA1s
    only those algorithms can be answered. ``realm`` restricts answers to that
    realm, so credentials are never offered to whoever asks.
    """

    def __init__(
        self,
        *,
        username: str,
        password: str | None = None,
        ha1s: Mapping[str, str] | None = None,
        realm: str | None = None,
        cnonce_factory: Callable[[], str] = lambda: secrets.token_urlsafe(12),
    ) -> None:
        if (password is None) == (ha1s is None):
            raise ValueError("give exactly one of password or ha1s")
        self.username = username
        self.realm = realm
        self._password = password
        self._ha1s: dict[str, str] = {}
        for name, value in (ha1s or {}).items():
            algorithm = canonical_algorithm(name)
            if algorithm is None:
                raise ValueError(f"unsupported algorithm {name!r}")
            self._ha1s[algorithm] = value.lower()
        self._cnonce_factory = cnonce_factory
        self._session: _Session | None = None

    def authorize(
        self, challenges: Sequence[str], *, method: str, uri: str, credentials_sent: bool = False
    ) -> str:
        """The ``Authorization`` (401) or ``Proxy-Authorization`` (407) value answering a response.

        ``challenges`` are all its ``WWW-Authenticate``/``Proxy-Authenticate``
        values (malformed ones are skipped). ``credentials_sent`` says the
        request that drew them already carried our credentials.
        Raises ``NoUsableChallenge`` or ``CredentialsRejected``.
        """
        if isinstance(challenges, str):
            raise TypeError("pass every header value as a sequence of str, not one str")
        usable = [
            (challenge, algorithm)
            for challenge in _digest_challenges(challenges)
            if (algorithm := self._answerable(challenge)) is not None
        ]
        if not usable:
            raise NoUsableChallenge(f"no answerable Digest challenge among {list(challenges)}")
        challenge, algorithm = max(usable, key=lambda pair: _strength(pair[1]))
        if credentials_sent and not challenge.stale:
            raise CredentialsRejected(f"{self.username} refused in realm {challenge.realm!r}")
        session = self._session
        if session is None or session.challenge.nonce != challenge.nonce:
            session = self._session = _Session(challenge, algorithm)
        return self._answer(session, method, uri)

    def reauthorize(self, *, method: str, uri: str) -> str | None:
        """Credentials for a new request reusing the last nonce (next ``nc``), if there is one."""
        if self._session is None:
            return None
        return self._answer(self._session, method, uri)

    def _answerable(self, challenge: DigestChallenge) -> str | None:
        """The algorithm to answer ``challenge`` with, or None if it cannot be answered."""
        algorithm = canonical_algorithm(challenge.algorithm)
        if algorithm is None or (self.realm is not None and challenge.realm != self.realm):
            return None
        if challenge.qop and "auth" not in challenge.qop:
            return None
        if self._password is None and algorithm not in self._ha1s:
            return None
        return algorithm

    def _answer(self, session: _Session, method: str, uri: str) -> str:
        challenge = session.challenge
        if self._password is None:
            secret = self._ha1s[session.algorithm]
        else:
            secret = ha1(self.username, challenge.realm, self._password, session.algorithm)
        qop = nc = cnonce = None
        if challenge.qop:
            session.nc += 1
            qop, nc, cnonce = "auth", session.nc, self._cnonce_factory()
        response = request_digest(
            algorithm=session.algorithm,
            ha1=secret,
            nonce=challenge.nonce,
            method=method,
            uri=uri,
            qop=qop,
            nc=nc,
            cnonce=cnonce,
        )
        credentials = DigestCredentials(
            username=self.username,
            realm=challenge.realm,
            nonce=challenge.nonce,
            uri=uri,
            response=response,
            algorithm=session.algorithm,
            qop=qop,
            nc=nc,
            cnonce=cnonce,
            opaque=challenge.opaque,
        )
        return str(credentials)


def _digest_challenges(values: Sequence[str]) -> list[DigestChallenge]:
    found: list[DigestChallenge] = []
    for value in values:
        try:
            parsed = parse_challenges(value)
        except AuthHeaderError:
            continue
        found.extend(item for item in parsed if isinstance(item, DigestChallenge))
    return found
