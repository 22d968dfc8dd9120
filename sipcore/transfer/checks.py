"""What a server-side blind transfer must pass before its REFER is accepted (``tr=c``).

TRANSFER.md, "Server-side blind transfer" step 1: nothing is accepted that cannot be
attempted. The B2BUA gathers the facts (``sipcore.b2bua.target_call.check_place_call``: does
the owner have a ``transfer`` dialplan and a runtime to run it, how many of the customer's
dialplans run, what the transferor's owner's destination policy says of the target, and
whether the owner's concurrent-call and the customer's call-rate limits leave room for one
more call) and ``judge_place_call`` turns them into a refusal or nothing. Every refusal is a
``403`` whose reason names the cause; the call stays as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from sipcore.policy import ALLOWED
from sipcore.policy import Decision as PolicyDecision
from sipcore.transfer.refer import Refusal

TRANSFER_DIALPLAN = "transfer"
"""The dialplan a blind transfer runs (SIPSorcery's name)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaceCallFacts:
    dialplan_exists: bool
    """The transferor's owner (customer) has a dialplan named ``transfer``."""
    executions_active: int
    """The customer's dialplan executions running now."""
    execution_limit: int
    """The customer's limit on concurrent executions; 0 means none."""
    destination: PolicyDecision
    """``DestinationRules.judge(target user)`` with the transferor's owner's rules."""
    concurrent: PolicyDecision = ALLOWED
    """``ConcurrentCalls.allows``: may the transferor's owner (account) start one more call."""
    rate: PolicyDecision = ALLOWED
    """``CallRateLimiter.allows``: may the owner's customer start one more call this minute."""
    runtime_available: bool = True
    """This worker has a dialplan runtime to run the ``transfer`` dialplan in."""


def judge_place_call(facts: PlaceCallFacts) -> Refusal | None:
    """Why the transfer cannot be attempted, or None when it can."""
    if not facts.dialplan_exists:
        return Refusal(status=403, reason=f"No {TRANSFER_DIALPLAN} dialplan")
    if not facts.runtime_available:
        return Refusal(status=403, reason="No dialplan runtime")
    if facts.execution_limit and facts.executions_active >= facts.execution_limit:
        return Refusal(status=403, reason="Dialplan execution limit reached")
    if not facts.destination.allowed:
        detail = facts.destination.detail or facts.destination.verdict.value
        return Refusal(status=403, reason=f"Destination refused: {detail}"[:120])
    for limit in (facts.concurrent, facts.rate):
        if not limit.allowed:
            detail = limit.detail or limit.verdict.value
            return Refusal(status=403, reason=f"Call limit reached: {detail}"[:120])
    return None
