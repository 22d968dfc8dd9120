"""Reading a REFER: what it asks for, and the refusal for everything the platform won't do.

The REFERs are built as ``Request`` objects, not parsed: ``read_refer`` must cope with any
header value, whatever the message layer lets through (it refuses some of these itself).
"""

import pytest

from sipcore.message import Request
from sipcore.transfer import TransferKind, read_refer
from sipcore.transfer.refer import MISSING_REFER_TO


def refer(*extra: str, cseq: int = 7) -> Request:
    lines = [
        "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKrefer1",
        "Max-Forwards: 70",
        "From: <sip:alice@example.com>;tag=alice-1",
        "To: <sip:bob@example.com>;tag=b2bua-1",
        "Call-ID: call-1@127.0.0.1",
        f"CSeq: {cseq} REFER",
        "Contact: <sip:alice@127.0.0.1:5070>",
        *extra,
    ]
    headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines]
    return Request("REFER", "sip:b2bua@127.0.0.1:5060", headers)


def read(*extra: str, cseq: int = 7):
    return read_refer(refer(*extra, cseq=cseq))


def test_a_blind_refer_names_its_target_and_its_subscription_id():
    result = read("Refer-To: <sip:carol@example.com;user=phone>")
    assert result.refusal is None
    assert result.kind is TransferKind.BLIND
    assert str(result.target) == "sip:carol@example.com;user=phone"
    assert result.target_user == "carol"
    assert result.event_id == "7"
    assert result.subscribe is True
    assert result.raw_refer_to == "<sip:carol@example.com;user=phone>"


def test_baresip_style_refer_to_without_angle_brackets_and_compact_forms_are_read():
    result = read("r: sip:carol@example.com", "b: <sip:alice@example.com>")
    assert result.refusal is None
    assert result.target_user == "carol"
    assert result.raw_referred_by == "<sip:alice@example.com>"
    assert result.referred_by_for_invite == "<sip:alice@example.com>"


def test_without_referred_by_the_invite_names_the_transferor():
    assert read("Refer-To: <sip:carol@example.com>").referred_by_for_invite == (
        "<sip:alice@example.com>"
    )


def test_an_attended_refer_carries_its_replaces():
    result = read(
        "Refer-To: <sip:carol@example.com?Replaces=cons-1%3Bto-tag%3Dsrv%3Bfrom-tag%3Dali"
        "%3Bearly-only>"
    )
    assert result.refusal is None
    assert result.kind is TransferKind.ATTENDED
    assert result.replaces is not None
    assert (result.replaces.call_id, result.replaces.to_tag, result.replaces.from_tag) == (
        "cons-1",
        "srv",
        "ali",
    )
    assert result.replaces.early_only
    assert result.raw_replaces == "cons-1;to-tag=srv;from-tag=ali;early-only"
    assert str(result.target) == "sip:carol@example.com"


@pytest.mark.parametrize(
    ("headers", "status", "reason"),
    [
        ((), 400, "Missing Refer-To"),
        (
            ("Refer-To: <sip:carol@example.com>", "Refer-To: <sip:dave@example.com>"),
            400,
            "Exactly one Refer-To is allowed",
        ),
        (
            ("Refer-To: <sip:carol@example.com>, <sip:dave@example.com>",),
            400,
            "Exactly one Refer-To is allowed",
        ),
        (("Refer-To: <sip:carol@exa mple.com",), 400, "Malformed Refer-To"),
        (("Refer-To: <tel:+441234567890>",), 403, "Only SIP and SIPS transfer targets are allowed"),
        (
            ("Refer-To: <http://example.com/x>",),
            403,
            "Only SIP and SIPS transfer targets are allowed",
        ),
        (
            ("Refer-To: <sip:carol@example.com;method=BYE>",),
            403,
            "Only INVITE transfer targets are allowed",
        ),
        (
            (
                "Refer-To: <sip:carol@example.com?Replaces=a%3Bto-tag%3D1%3Bfrom-tag%3D2"
                "&Replaces=b%3Bto-tag%3D3%3Bfrom-tag%3D4>",
            ),
            400,
            "More than one Replaces",
        ),
        (
            ("Refer-To: <sip:carol@example.com?Replaces=a%3Bto-tag%3D1>",),
            400,
            "Malformed Replaces",
        ),
        (
            ("Refer-To: <sip:carol@example.com>", "Replaces: a;to-tag=1;from-tag=2"),
            400,
            "Replaces is only allowed on INVITE",
        ),
        (
            ("Refer-To: <sip:carol@example.com>", "Referred-By: <sip:x"),
            400,
            "Malformed Referred-By",
        ),
        (("Refer-To: <sip:carol@example.com>", "Refer-Sub: maybe"), 400, "Malformed Refer-Sub"),
    ],
)
def test_refusals(headers, status, reason):
    result = read(*headers)
    assert result.refusal is not None
    assert (result.refusal.status, result.refusal.reason) == (status, reason)
    assert result.raw_refer_to  # the audit always has something to record


def test_a_refer_without_refer_to_is_recorded_as_such():
    assert read().raw_refer_to == MISSING_REFER_TO


def test_refer_sub_false_asks_for_no_subscription():
    result = read("Refer-To: <sip:carol@example.com>", "Refer-Sub: false", "Supported: norefersub")
    assert result.refusal is None
    assert result.subscribe is False


def test_two_refers_in_one_dialogue_get_the_ids_of_their_cseqs():
    first = read("Refer-To: <sip:carol@example.com>", cseq=7)
    second = read("Refer-To: <sip:dave@example.com>", cseq=8)
    assert (first.event_id, second.event_id) == ("7", "8")


def test_max_forwards_is_carried():
    assert read("Refer-To: <sip:carol@example.com>").max_forwards == 70
