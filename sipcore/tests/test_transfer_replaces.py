"""RFC 3891 matching of an attended transfer's Replaces against the server's dialogues,
with hand-made REFERs for every rejection case, through to the REFER's final response."""

import pytest

from sipcore.directory import TransferPolicy
from sipcore.message import parse_message
from sipcore.transfer import (
    CallFacts,
    DialogueInfo,
    DialogueState,
    Transferor,
    TransferProcess,
    find_replaced,
    judge_replaces,
    read_refer,
)
from sipcore.transfer.actions import DialogueFound, LookupDialogue, RespondToRefer

ALICE, ALICE_2, MALLORY = 11, 12, 99
CUSTOMER, OTHER_CUSTOMER = 1, 2


class Registry:
    """The server's dialogues by (Call-ID, local tag, remote tag): a ``DialogueLookup``."""

    def __init__(self, *dialogues: DialogueInfo) -> None:
        self.dialogues = {(d.call_id, d.local_tag, d.remote_tag): d for d in dialogues}
        self.asked: list[tuple[str, str, str]] = []

    def describe(self, call_id: str, local_tag: str, remote_tag: str) -> DialogueInfo | None:
        self.asked.append((call_id, local_tag, remote_tag))
        return self.dialogues.get((call_id, local_tag, remote_tag))


def dialogue(**changes) -> DialogueInfo:
    values = {
        "call_id": "cons-1",
        "local_tag": "srv-2",
        "remote_tag": "ali-2",
        "state": DialogueState.CONFIRMED,
        "method": "INVITE",
        "account_id": ALICE,
        "customer_id": CUSTOMER,
        "far_end_sdp": b"v=0\r\n",
    } | changes
    return DialogueInfo(**values)


def attended_refer(replaces: str) -> bytes:
    lines = [
        "REFER sip:b2bua@127.0.0.1:5060 SIP/2.0",
        "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKatt1",
        "Max-Forwards: 70",
        "From: <sip:alice@example.com>;tag=ali-1",
        "To: <sip:bob@example.com>;tag=srv-1",
        "Call-ID: call-1",
        "CSeq: 3 REFER",
        "Contact: <sip:alice@127.0.0.1:5070>",
        f"Refer-To: <sip:carol@example.com?Replaces={replaces}>",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def transferor(**changes) -> Transferor:
    values = {
        "account_id": ALICE,
        "customer_id": CUSTOMER,
        "cross_account_allowed": False,
        "call_id": "call-1",
        "local_tag": "srv-1",
        "remote_tag": "ali-1",
    } | changes
    return Transferor(**values)


CONS = "cons-1%3Bto-tag%3Dsrv-2%3Bfrom-tag%3Dali-2"


def verdict(registry: Registry, replaces: str = CONS, **who):
    refer = read_refer(parse_message(attended_refer(replaces)))
    assert refer.refusal is None and refer.replaces is not None
    found = find_replaced(refer.replaces, registry)
    return judge_replaces(refer.replaces, found, transferor(**who))


def test_the_to_tag_is_our_local_tag_and_the_from_tag_the_remote_one():
    registry = Registry(dialogue())
    assert verdict(registry) is None
    assert registry.asked == [("cons-1", "srv-2", "ali-2")]


@pytest.mark.parametrize(
    ("registry", "replaces", "who", "status", "reason"),
    [
        (Registry(), CONS, {}, 481, "Replaced dialogue does not exist"),
        (
            Registry(dialogue()),
            "cons-1%3Bto-tag%3Dali-2%3Bfrom-tag%3Dsrv-2",
            {},
            481,
            "Replaced dialogue does not exist",
        ),
        (
            Registry(dialogue(method="SUBSCRIBE")),
            CONS,
            {},
            481,
            "Replaced dialogue is not an INVITE dialogue",
        ),
        (
            Registry(dialogue(state=DialogueState.TERMINATED)),
            CONS,
            {},
            603,
            "Replaced dialogue has ended",
        ),
        (
            Registry(dialogue()),
            CONS + "%3Bearly-only",
            {},
            486,
            "Replaced dialogue is already answered",
        ),
        (
            Registry(dialogue(account_id=MALLORY)),
            CONS,
            {},
            403,
            "Replaced dialogue belongs to another account",
        ),
        (
            Registry(dialogue(account_id=ALICE_2)),
            CONS,
            {},
            403,
            "Replaced dialogue belongs to another account",
        ),
        (
            Registry(dialogue(account_id=MALLORY, customer_id=OTHER_CUSTOMER)),
            CONS,
            {"cross_account_allowed": True},
            403,
            "Replaced dialogue belongs to another account",
        ),
        (
            Registry(dialogue(call_id="call-1", local_tag="srv-1", remote_tag="ali-1")),
            "call-1%3Bto-tag%3Dsrv-1%3Bfrom-tag%3Dali-1",
            {},
            400,
            "Replaces names the REFER's own dialogue",
        ),
        (
            Registry(dialogue(account_id=MALLORY, state=DialogueState.TERMINATED)),
            CONS,
            {},
            403,
            "Replaced dialogue belongs to another account",
        ),
    ],
)
def test_rfc_3891_rejections(registry, replaces, who, status, reason):
    refusal = verdict(registry, replaces, **who)
    assert refusal is not None
    assert (refusal.status, refusal.reason) == (status, reason)


def test_another_account_of_the_same_customer_is_allowed_only_where_the_customer_allows():
    registry = Registry(dialogue(account_id=ALICE_2))
    assert verdict(registry, cross_account_allowed=True) is None


def test_an_early_dialogue_may_be_replaced_with_or_without_early_only():
    registry = Registry(dialogue(state=DialogueState.EARLY))
    assert verdict(registry) is None
    assert verdict(registry, CONS + "%3Bearly-only") is None


def test_an_unknown_transferor_account_never_matches_a_providers_dialogue():
    assert verdict(Registry(dialogue(account_id=None)), account_id=None) is not None


@pytest.mark.parametrize(
    ("registry", "replaces", "status"),
    [
        (Registry(), CONS, 481),
        (Registry(dialogue(method="SUBSCRIBE")), CONS, 481),
        (Registry(dialogue(state=DialogueState.TERMINATED)), CONS, 603),
        (Registry(dialogue()), CONS + "%3Bearly-only", 486),
        (Registry(dialogue(account_id=MALLORY)), CONS, 403),
    ],
)
def test_each_rejection_is_the_refers_final_response(registry, replaces, status):
    refer = read_refer(parse_message(attended_refer(replaces)))
    process = TransferProcess(
        refer=refer,
        call=CallFacts(
            customer_id=CUSTOMER,
            account_id=ALICE,
            transferor="alice@example.com",
            transferee="bob@example.com",
            local_tag="srv-1",
            remote_tag="ali-1",
            leg_transfer="p",
        ),
        now=1000.0,
    )
    actions = process.start(1000.0)
    lookup = next(a for a in actions if isinstance(a, LookupDialogue))
    found = find_replaced(lookup.replaces, registry)
    actions = process.handle(DialogueFound(info=found), 1000.1)
    responses = [a for a in actions if isinstance(a, RespondToRefer)]
    assert [r.status for r in responses] == [status]
    assert process.finished
    assert process.audit.payload()["outcome"] == "rejected"


def test_under_tr_n_an_attended_refer_is_declined_without_looking_anything_up():
    refer = read_refer(parse_message(attended_refer(CONS)))
    process = TransferProcess(
        refer=refer,
        call=CallFacts(
            customer_id=CUSTOMER,
            account_id=ALICE,
            transferor="alice",
            transferee="bob",
            local_tag="srv-1",
            remote_tag="ali-1",
            account_policy=TransferPolicy(value="n", source="account"),
        ),
        now=5.0,
    )
    actions = process.start(5.0)
    assert not any(isinstance(a, LookupDialogue) for a in actions)
    [response] = [a for a in actions if isinstance(a, RespondToRefer)]
    assert (response.status, response.reason) == (603, "Transfers are disabled on this call")
