"""Digest-authenticating a request as one of the platform's SIP accounts.

The registrar (401, ``Authorization``) and the B2BUA (407, ``Proxy-Authorization``) do the
same thing: check the credentials without the account, look the account's HA1 up through
the Directory (a coroutine, so the database never blocks the loop), then decide. An unknown
account is decided against a decoy HA1 (``DigestServer.decide``), so its answer matches a
wrong password's exactly.
"""

from __future__ import annotations

from sipcore.auth import Accepted, DigestAttempt, DigestServer, Rejected
from sipcore.directory import AccountRecord, Directory
from sipcore.message import Request


async def authenticate(
    request: Request,
    *,
    digest: DigestServer,
    directory: Directory,
    realm: str,
    credentials_header: str,
    now: float,
) -> AccountRecord | Rejected:
    """The account ``request``'s credentials prove, or why they do not."""
    attempt = digest.examine(
        request.headers.get_all(credentials_header),
        method=request.method,
        uri=str(request.uri),
        realm=realm,
        now=now,
    )
    if isinstance(attempt, Rejected):
        return attempt
    assert isinstance(attempt, DigestAttempt)
    account = await directory.find_account(attempt.username, realm)
    stored = None if account is None else account.ha1.get(attempt.algorithm)
    outcome = digest.decide(attempt, stored)
    if isinstance(outcome, Accepted) and account is not None:
        return account
    assert isinstance(outcome, Rejected)
    return outcome
