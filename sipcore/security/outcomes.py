"""Reading an authentication's outcome off the final response a request got.

The registrar (401/``Authorization``) and the B2BUA (407/``Proxy-Authorization``) answer
every failure of credentials the same way on purpose (a rechallenge, or a plain ``403``),
so the response is also where failures can be counted without either of them knowing about
bans. A request carrying Digest credentials that draws

* a ``403``, or a ``401``/``407`` whose challenge is not ``stale=true``: a failure (a wrong
  password, an unknown user, a forged nonce, an account refused after authenticating);
* a ``2xx``: a success, which clears the account's failures;
* anything else (a ``stale=true`` rechallenge, a ``423``, a ``500``): no verdict.

A request without credentials is the normal first step and never counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from sipcore.auth import (
    AuthHeaderError,
    DigestChallenge,
    DigestCredentials,
    parse_challenges,
    parse_credentials,
)
from sipcore.message import Request, Response
from sipcore.security.bans import Subject

_CREDENTIALS = {401: "Authorization", 407: "Proxy-Authorization"}
_CHALLENGES = {401: "WWW-Authenticate", 407: "Proxy-Authenticate"}


@dataclass(frozen=True, slots=True)
class AuthOutcome:
    account: Subject | None
    """The account the credentials claimed; None when no account could have that name."""
    failed: bool


def auth_outcome(request: Request, response: Response) -> AuthOutcome | None:
    """What ``response`` says about the credentials ``request`` carried; None: nothing."""
    status = response.status
    if status < 200 or not (status < 300 or status in (401, 403, 407)):
        return None
    credentials = _credentials(request)
    if credentials is None:
        return None
    try:
        account: Subject | None = Subject.account(credentials.username, credentials.realm)
    except ValueError:  # empty, spaces, too long: no account's name, the source still counts
        account = None
    if status < 300:
        return AuthOutcome(account, failed=False)
    if status != 403 and _stale(response, _CHALLENGES[status]):
        return None
    return AuthOutcome(account, failed=True)


def _credentials(request: Request) -> DigestCredentials | None:
    for header in _CREDENTIALS.values():
        for value in request.headers.get_all(header):
            try:
                credentials = parse_credentials(value)
            except AuthHeaderError:
                continue
            if isinstance(credentials, DigestCredentials):
                return credentials
    return None


def _stale(response: Response, header: str) -> bool:
    for value in response.headers.get_all(header):
        try:
            challenges = parse_challenges(value)
        except AuthHeaderError:
            continue
        if any(isinstance(c, DigestChallenge) and c.stale for c in challenges):
            return True
    return False
