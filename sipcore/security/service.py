"""``SecurityService``: the gate, the shared counters and the ban policy working together.

The gate decides per message from local state; this service does the rest, which needs the
shared ``CounterStore``: it counts failed authentications per client address and per
account (it is the ``AuthReport`` the registrar and call admission tell every credential
check's verdict, ``sipcore.account_auth``), bans when the policy says so (a scanner's source
at once), writes each ban to the store so every worker enforces it, reloads the store's bans
into the gate (``refresh``; the worker calls it every second or so), lifts bans, and
publishes ``security.*`` events.

No asyncio here: the coroutines only await the store, and work the message hook cannot wait
for (banning a scanner it just saw) is handed to the ``spawn`` callable the worker provides.
A failing store (Redis down) is logged and never breaks SIP handling: the gate keeps
enforcing the bans it already has.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from sipcore.events import EventSink
from sipcore.message import Request, Response
from sipcore.security.bans import Ban, BanReason, Subject, SubjectKind
from sipcore.security.events import banned_event, unbanned_event
from sipcore.security.gate import Decision, SecurityGate, Verdict
from sipcore.security.policy import BanPolicy
from sipcore.security.store import CounterStore

log = logging.getLogger(__name__)

Spawn = Callable[[Coroutine[Any, Any, Any]], object]
"""Runs a coroutine in the background (the worker's task set); its result is not used."""


class SecurityService:
    def __init__(
        self,
        *,
        gate: SecurityGate,
        store: CounterStore,
        policy: BanPolicy,
        events: EventSink,
        spawn: Spawn,
        worker_id: str = "",
    ) -> None:
        self.gate = gate
        self.store = store
        self.policy = policy
        self.events = events
        self.worker_id = worker_id
        self._spawn = spawn
        self._issued: dict[Subject, Ban] = {}
        """Bans this worker made, to announce their expiry once (not once per worker)."""
        self._saving: set[Subject] = set()
        """Bans being written to the store, kept by ``refresh`` until the store has them."""
        self._proved: set[Subject] = set()
        """Accounts whose failures are still to be forgotten (``credentials_proved``)."""
        self._forgetting = False

    def screen(self, message: Request | Response, source: str, now: float) -> bool:
        """The message hook: True to process ``message`` from ``source``, False to drop it."""
        return self.judge(message, source, now).verdict is Verdict.ALLOW

    def judge(self, message: Request | Response, source: str, now: float) -> Decision:
        """``screen`` giving the gate's whole decision (why a message is dropped)."""
        decision = self.gate.check(message, source, now)
        if decision.verdict is not Verdict.ALLOW:
            self._follow_up(decision, source, now)
        return decision

    def _follow_up(self, decision: Decision, source: str, now: float) -> None:
        if decision.event is not None:
            self.events.publish(decision.event)
        if decision.scanner is not None and self.policy.ban_scanners:
            self._spawn(
                self.ban(
                    Subject.source(source), BanReason.SCANNER, now=now, detail=decision.scanner
                )
            )

    def credentials_failed(self, client: str, username: str | None, realm: str, now: float) -> None:
        """``AuthReport``: credentials from ``client`` claiming ``username`` in ``realm``
        failed; counted in the background (the answer to the request does not wait)."""
        self._spawn(self.auth_failed(client, _account(username, realm), now))

    def credentials_proved(self, username: str, realm: str) -> None:
        """``AuthReport``: the account's password was right; its failures are forgotten."""
        account = _account(username, realm)
        if account is None:
            return
        self._proved.add(account)
        if not self._forgetting:
            self._forgetting = True
            self._spawn(self._forget_proved())

    async def _forget_proved(self) -> None:
        """Forget the failures of the accounts that proved their password, those that proved
        while the store was busy all at once: one store round trip per batch rather than
        one per registration."""
        try:
            while self._proved:
                accounts, self._proved = self._proved, set()
                await self.auth_succeeded(*accounts)
        finally:
            self._forgetting = False

    async def auth_failed(self, source: str, account: Subject | None, now: float) -> list[Ban]:
        """Count a failed authentication from ``source`` claiming ``account``; the bans it
        caused (the source's, the account's, both or none)."""
        policy = self.policy
        made = []
        counted = [] if self.gate.is_exempt(source) else [Subject.source(source)]
        if account is not None:
            counted.append(account)
        try:
            for subject in counted:
                limit = (
                    policy.max_source_failures
                    if subject.kind is SubjectKind.SOURCE
                    else policy.max_account_failures
                )
                count = await self.store.count_failure(
                    subject, window=policy.failure_window, now=now
                )
                # The count is atomic in the store, so exactly one failure, on whichever
                # worker, reaches the limit: one ban, however many guesses are in flight.
                if count == limit:
                    detail = f"{count} failed authentications"
                    made.append(
                        await self.ban(subject, BanReason.AUTH_FAILURES, now=now, detail=detail)
                    )
                    await self.store.clear_failures(subject)  # after the ban: a fresh count
        except Exception:
            log.exception("counting a failed authentication from %s failed", source)
        return made

    async def auth_succeeded(self, *accounts: Subject) -> None:
        """The accounts proved their passwords: their earlier failures no longer count."""
        try:
            await self.store.clear_failures(*accounts)
        except Exception as error:
            log.warning("could not forget the failures of %d accounts: %r", len(accounts), error)

    async def ban(
        self,
        subject: Subject,
        reason: BanReason,
        *,
        now: float,
        detail: str = "",
        seconds: float | None = None,
    ) -> Ban:
        """Ban ``subject`` for the policy's length for its offence (or ``seconds``), here at
        once and, through the store, on every worker. Publishes ``security.banned``."""
        self._saving.add(subject)
        try:
            ban = await self._make_ban(subject, reason, now=now, detail=detail, seconds=seconds)
        finally:
            self._saving.discard(subject)
        self.events.publish(banned_event(ban, worker_id=self.worker_id))
        return ban

    async def _make_ban(
        self, subject: Subject, reason: BanReason, *, now: float, detail: str, seconds: float | None
    ) -> Ban:
        offence = 1
        try:
            offence = await self.store.count_offence(
                subject, memory=self.policy.offence_memory, now=now
            )
        except Exception:
            log.exception("counting the offences of %s failed", subject)
        duration = self.policy.ban_duration(offence) if seconds is None else seconds
        ban = Ban(
            subject=subject,
            since=now,
            until=now + duration,
            offence=offence,
            reason=reason,
            detail=detail,
        )
        self.gate.add_ban(ban)
        self._issued[subject] = ban
        try:
            await self.store.save_ban(ban, now=now)
        except Exception:
            log.exception("storing the ban of %s failed; it holds on this worker only", subject)
        return ban

    async def lift(self, subject: Subject, *, now: float, by: str = "") -> Ban | None:
        """End ``subject``'s ban at once; the ban lifted, None if there was none."""
        lifted = await self.store.lift_ban(subject)
        self.gate.remove_ban(subject)
        self._issued.pop(subject, None)
        if lifted is not None:
            self.events.publish(
                unbanned_event(subject, how="lifted", by=by, now=now, worker_id=self.worker_id)
            )
        return lifted

    async def refresh(self, now: float) -> None:
        """Load the store's bans into the gate and announce the expiry of the bans made here."""
        try:
            bans = await self.store.active_bans(now=now)
        except Exception:
            log.warning("could not read the shared bans; keeping the local ones", exc_info=True)
            return
        self.gate.replace_bans(bans, now)
        current = {ban.subject for ban in bans}
        for subject, ban in list(self._issued.items()):
            if subject in self._saving:
                self.gate.add_ban(ban)
                continue
            if subject in current:
                continue
            del self._issued[subject]
            # Gone before its end means lifted, and the lifter announced it.
            if not ban.active(now):
                self.events.publish(
                    unbanned_event(subject, how="expired", now=now, worker_id=self.worker_id)
                )


def _account(username: str | None, realm: str) -> Subject | None:
    """The account ``username`` names; None when no account could have that name (empty,
    spaces, too long): then only the client's address counts."""
    if username is None:
        return None
    try:
        return Subject.account(username, realm)
    except ValueError:
        return None
