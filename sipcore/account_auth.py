"""Digest-authenticating a request as one of the platform's SIP accounts.

The registrar (401, ``Authorization``) and the B2BUA (407, ``Proxy-Authorization``) do the
same thing: check the credentials without the account, look the account's HA1 up through
the Directory (a coroutine, so the database never blocks the loop), then decide. An unknown
account is decided against a decoy HA1 (``DigestServer.decide``), so its answer matches a
wrong password's exactly.

This is also where a guess is told from a first try: the verdict goes to an ``AuthReport``
(the security service, which counts failures per client address and per account and bans),
so nothing downstream has to read it back off the response. Credentials that are missing or
answer a stale nonce are no verdict; whatever the caller refuses after a proof (a disabled
account, an address off the allow list, a blocked destination) is not a failed password.
"""

from __future__ import annotations

from typing import Protocol

from sipcore.auth import Accepted, DigestAttempt, DigestServer, Rejected
from sipcore.directory import AccountRecord, Directory
from sipcore.message import Request


class AuthReport(Protocol):
    """Told the verdict of every credential check (``SecurityService`` implements it)."""

    def credentials_failed(self, client: str, username: str | None, realm: str, now: float) -> None:
        """Credentials from the IP address ``client`` claiming ``username`` (None: none
        readable) in ``realm`` proved nothing: a wrong password, an unknown user, a forged
        nonce."""

    def credentials_proved(self, username: str, realm: str) -> None:
        """The account's password was right."""


async def authenticate(
    request: Request,
    *,
    digest: DigestServer,
    directory: Directory,
    realm: str,
    credentials_header: str,
    now: float,
    client: str = "",
    report: AuthReport | None = None,
) -> AccountRecord | Rejected:
    """The account ``request``'s credentials prove, or why they do not; the verdict goes to
    ``report`` with ``client``, the IP address the request is judged by."""
    outcome = await _authenticate(
        request,
        digest=digest,
        directory=directory,
        realm=realm,
        credentials_header=credentials_header,
        now=now,
    )
    if report is not None:
        if isinstance(outcome, AccountRecord):
            report.credentials_proved(outcome.username, realm)
        elif outcome.is_failure:
            report.credentials_failed(client, outcome.username, realm, now)
    return outcome


async def _authenticate(
    request: Request,
    *,
    digest: DigestServer,
    directory: Directory,
    realm: str,
    credentials_header: str,
    now: float,
) -> AccountRecord | Rejected:
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
    outcome = await digest.decide(attempt, stored)
    if isinstance(outcome, Accepted) and account is not None:
        return account
    assert isinstance(outcome, Rejected)
    return outcome
