"""The implicit subscription: accepting the REFER, the NOTIFYs we send, and reading the
NOTIFYs real phones send (baresip's bare LF, linphone's doubled ``reason=``)."""

import pytest

from sipcore.message import Request
from sipcore.transfer import Notifier, read_notify
from sipcore.transfer.subscription import accept_response, parse_sipfrag


def test_the_refer_is_accepted_with_202_or_200_and_refer_sub_false_is_echoed():
    assert accept_response(subscribe=True, with_200=False) == (202, "Accepted", ())
    assert accept_response(subscribe=True, with_200=True) == (200, "OK", ())
    assert accept_response(subscribe=False, with_200=False) == (
        202,
        "Accepted",
        (("Refer-Sub", "false"),),
    )


def test_progress_then_final_notify():
    notifier = Notifier(event_id="7", subscribed=True)
    trying = notifier.notify(100)
    assert trying is not None and not trying.final
    assert dict(trying.headers) == {
        "Event": "refer;id=7",
        "Subscription-State": "active;expires=60",
        "Content-Type": "message/sipfrag;version=2.0",
    }
    assert trying.body == b"SIP/2.0 100 Trying\r\n"
    ringing = notifier.notify(180)
    assert ringing is not None and ringing.body == b"SIP/2.0 180 Ringing\r\n"
    final = notifier.notify(200)
    assert final is not None and final.final
    assert dict(final.headers)["Subscription-State"] == "terminated;reason=noresource"
    assert final.body == b"SIP/2.0 200 OK\r\n"
    assert notifier.notify(200) is None
    assert notifier.sent == [100, 180, 200]


def test_a_failure_carries_the_real_status_and_reason():
    notifier = Notifier(event_id="9", subscribed=True)
    busy = notifier.notify(486, "Busy Here")
    assert busy is not None and busy.final and busy.body == b"SIP/2.0 486 Busy Here\r\n"


def test_a_terminated_provisional_can_be_forced_final():
    notifier = Notifier(event_id="9", subscribed=True)
    content = notifier.notify(180, final=True)
    assert content is not None and content.final
    assert notifier.notify(200) is None


def test_refer_sub_false_means_no_notify_at_all():
    notifier = Notifier(event_id="7", subscribed=False)
    assert notifier.notify(100) is None
    assert notifier.notify(200) is None
    assert notifier.sent == []


def test_nothing_is_sent_once_the_transferor_is_gone():
    notifier = Notifier(event_id="7", subscribed=True)
    notifier.notify(100)
    notifier.subscriber_gone()
    assert notifier.notify(200) is None
    assert notifier.sent == [100]


@pytest.mark.parametrize(("status", "still_active"), [(200, True), (481, False), (408, False)])
def test_a_notify_answered_481_or_408_ends_the_subscription(status, still_active):
    notifier = Notifier(event_id="7", subscribed=True)
    notifier.notify(100)
    notifier.answered(status)
    assert (notifier.notify(180) is not None) is still_active


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"SIP/2.0 200 OK\r\n", (200, "OK")),
        (b"SIP/2.0 180 Ringing\n", (180, "Ringing")),
        (b"SIP/2.0 486 Busy Here", (486, "Busy Here")),
        (b"SIP/2.0 100\r\n", (100, "")),
        (b"\r\nSIP/2.0 603 Declined\r\nContent-Length: 0\r\n", (603, "Declined")),
        (b"", None),
        (b"HTTP/1.1 200 OK\r\n", None),
        (b"SIP/2.0 20 OK\r\n", None),
        (b"\xff\xfe", None),
    ],
)
def test_sipfrag_bodies_are_read_tolerantly(body, expected):
    assert parse_sipfrag(body) == expected


def notify(*headers: str, body: bytes) -> Request:
    """Built, not parsed: the reader must cope with what real phones send whatever the
    message layer lets through."""
    lines = [
        "Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKn1",
        "From: <sip:bob@example.com>;tag=bob-1",
        "To: <sip:b2bua@127.0.0.1>;tag=srv-3",
        "Call-ID: call-2",
        "CSeq: 4 NOTIFY",
        *headers,
        "Content-Type: message/sipfrag;version=2.0",
    ]
    fields = [tuple(part.strip() for part in line.split(":", 1)) for line in lines]
    return Request("NOTIFY", "sip:b2bua@127.0.0.1:5060", fields, body)


def test_linphones_doubled_reason_is_read_as_terminated():
    received = read_notify(
        notify(
            "Event: refer;id=21",
            "Subscription-State: terminated;reason=reason=noresource",
            body=b"SIP/2.0 200 Ok\r\n",
        )
    )
    assert received is not None
    assert (received.event_id, received.status, received.reason, received.terminated) == (
        "21",
        200,
        "Ok",
        True,
    )


def test_baresips_bare_lf_progress_is_read_as_active():
    received = read_notify(
        notify(
            "Event: refer", "Subscription-State: active;expires=60", body=b"SIP/2.0 180 Ringing\n"
        )
    )
    assert received is not None
    assert (received.event_id, received.status, received.terminated) == (None, 180, False)


def test_a_final_status_terminates_even_when_the_state_says_active():
    received = read_notify(
        notify("o: refer;id=4", "Subscription-State: active", body=b"SIP/2.0 486 Busy Here\r\n")
    )
    assert received is not None and received.terminated and received.status == 486


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        (("Event: dialog",), b"SIP/2.0 200 OK\r\n"),
        ((), b"SIP/2.0 200 OK\r\n"),
        (("Event: refer;id=3",), b"nonsense"),
    ],
)
def test_notifies_that_cannot_be_relayed(headers, body):
    assert read_notify(notify(*headers, body=body)) is None
