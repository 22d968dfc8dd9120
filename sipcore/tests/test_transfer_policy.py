"""The ``tr`` policy in force on a call, TRANSFER.md's decision table, and the checks a
server-side blind transfer passes before its REFER is accepted."""

import pytest

from sipcore.directory import TransferPolicy
from sipcore.policy import ALLOWED, DestinationRules
from sipcore.transfer import (
    Decision,
    PlaceCallFacts,
    TransferKind,
    TransferPolicyError,
    call_policy,
    decide,
    judge_place_call,
    resolve_policy,
)
from sipcore.transfer.policy import DECISIONS, DISABLED


@pytest.mark.parametrize(
    ("leg", "account", "customer", "expected"),
    [
        ("p", "c", "c", ("p", "leg")),
        (None, "c", "p", ("c", "account")),
        (None, None, "p", ("p", "customer")),
        (None, None, None, ("n", "platform")),
        ("n", "p", "c", ("n", "leg")),
    ],
)
def test_the_first_value_found_wins_and_says_where_it_came_from(leg, account, customer, expected):
    policy = resolve_policy(leg=leg, account=account, customer=customer)
    assert (policy.value, policy.source) == expected


@pytest.mark.parametrize(("leg", "account"), [("x", None), (None, "yes"), ("", "p")])
def test_an_unknown_value_is_an_error_never_a_default(leg, account):
    with pytest.raises(TransferPolicyError, match="unknown transfer policy"):
        resolve_policy(leg=leg, account=account)


def test_call_policy_prefers_the_answering_legs_tr_over_the_accounts_resolved_policy():
    account = TransferPolicy(value="c", source="customer")
    assert call_policy("p", account) == TransferPolicy(value="p", source="leg")
    assert call_policy(None, account) is account
    with pytest.raises(TransferPolicyError, match="tr='z' from the account"):
        call_policy(None, TransferPolicy(value="z", source="account"))
    with pytest.raises(TransferPolicyError, match="source"):
        call_policy(None, TransferPolicy(value="n", source="somewhere"))


@pytest.mark.parametrize(
    ("value", "blind", "attended"),
    [
        ("n", Decision.REJECTED, Decision.REJECTED),
        ("p", Decision.PASSED_THROUGH, Decision.PROCESSED),
        ("c", Decision.PROCESSED, Decision.PROCESSED),
    ],
)
def test_the_decision_table_is_transfer_md(value, blind, attended):
    policy = TransferPolicy(value=value, source="leg")
    assert decide(policy, TransferKind.BLIND) is blind
    assert decide(policy, TransferKind.ATTENDED) is attended
    assert decide(policy, TransferKind.SEMI_ATTENDED) is attended


def test_the_table_covers_every_value_and_kind():
    assert set(DECISIONS) == {(v, k) for v in "npc" for k in TransferKind}
    assert (DISABLED.status, DISABLED.reason) == (603, "Transfers are disabled on this call")


def facts(**changes) -> PlaceCallFacts:
    values = {
        "dialplan_exists": True,
        "executions_active": 0,
        "execution_limit": 5,
        "destination": ALLOWED,
    } | changes
    return PlaceCallFacts(**values)


def test_a_transfer_that_can_be_attempted_passes():
    assert judge_place_call(facts()) is None
    assert judge_place_call(facts(execution_limit=0, executions_active=50)) is None


def test_no_transfer_dialplan_refuses_before_acceptance():
    refusal = judge_place_call(facts(dialplan_exists=False))
    assert (refusal.status, refusal.reason) == (403, "No transfer dialplan")


def test_the_execution_limit_refuses():
    refusal = judge_place_call(facts(executions_active=5))
    assert (refusal.status, refusal.reason) == (403, "Dialplan execution limit reached")


def test_a_premium_rate_target_is_refused_by_the_destination_policy():
    rules = DestinationRules(denied_prefixes=frozenset({"44909"}))
    refusal = judge_place_call(facts(destination=rules.judge("+44 909 8790000")))
    assert refusal.status == 403
    assert refusal.reason.startswith("Destination refused: destination +44 909 8790000")
    assert "44909" in refusal.reason
