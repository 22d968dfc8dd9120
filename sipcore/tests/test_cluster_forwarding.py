"""The forwarding stamp and which dialogue a request needs (sans-I/O, no sockets, no Redis)."""

import pytest

from sipcore.cluster import FORWARDED_HEADER, ClusterError, Forwarded, ForwardSigner
from sipcore.cluster import dialogue_needed as needed
from sipcore.message import Request

SECRET = b"s" * 32
NOW = 1_800_000_000.0


def request(method: str = "BYE", *, to_tag: str = "tt", **extra: str) -> Request:
    to = "<sip:bob@example.test>" + (f";tag={to_tag}" if to_tag else "")
    return Request(
        method,
        "sip:bob@127.0.0.1:5070",
        [
            ("Via", "SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-1"),
            ("From", "<sip:alice@example.test>;tag=ft"),
            ("To", to),
            ("Call-ID", "call-1@host"),
            ("CSeq", f"2 {method}"),
            *extra.items(),
        ],
    )


def test_a_signed_request_verifies_with_its_forwarder_and_source():
    signer = ForwardSigner(SECRET)
    bye = request()
    signer.sign(bye, worker_id="sip-1", source="udp:127.0.0.1:5999", now=NOW)
    assert signer.verify(bye, now=NOW + 5) == Forwarded(
        worker_id="sip-1", source="udp:127.0.0.1:5999", signed_at=int(NOW)
    )


def test_a_request_without_a_stamp_is_not_forwarded():
    assert ForwardSigner(SECRET).verify(request(), now=NOW) is None


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda r: r.headers.set("CSeq", "3 BYE"), "bad signature"),
        (lambda r: r.headers.set("Call-ID", "other@host"), "bad signature"),
        (lambda r: setattr(r, "uri", "sip:mallory@127.0.0.1"), "bad signature"),
        (lambda r: r.headers.add(FORWARDED_HEADER, "worker=x;ts=1;sig=0"), "more than one"),
        (lambda r: r.headers.set(FORWARDED_HEADER, "worker=sip-1;ts=soon"), "malformed"),
        (lambda r: r.headers.set(FORWARDED_HEADER, "garbage"), "malformed"),
    ],
)
def test_a_stamp_moved_altered_or_forged_is_refused(tamper, message):
    signer = ForwardSigner(SECRET)
    bye = request()
    signer.sign(bye, worker_id="sip-1", source="udp:127.0.0.1:5999", now=NOW)
    tamper(bye)
    with pytest.raises(ClusterError, match=message):
        signer.verify(bye, now=NOW)


def test_a_stamp_from_another_secret_or_too_old_is_refused():
    bye = request()
    ForwardSigner(b"x" * 32).sign(bye, worker_id="sip-1", source="-", now=NOW)
    with pytest.raises(ClusterError, match="bad signature"):
        ForwardSigner(SECRET).verify(bye, now=NOW)
    signer = ForwardSigner(SECRET, max_age=32)
    signer.sign(bye, worker_id="sip-1", source="-", now=NOW)
    with pytest.raises(ClusterError, match="too old"):
        signer.verify(bye, now=NOW + 33)


def test_signing_refuses_unsafe_names_and_short_secrets():
    with pytest.raises(ClusterError):
        ForwardSigner(SECRET).sign(request(), worker_id="a;b", source="-", now=NOW)
    with pytest.raises(ValueError, match="16 bytes"):
        ForwardSigner(b"short")


def test_the_dialogue_a_request_needs():
    assert needed(request("BYE")) == "call-1@host"
    assert needed(request("INVITE", to_tag="")) is None  # a new call: any worker serves it
    replacing = request("INVITE", to_tag="", Replaces="consult@host;to-tag=a;from-tag=b")
    assert needed(replacing) == "consult@host"
    assert needed(request("INVITE", to_tag="", Replaces="no tags")) is None  # answered 400
    assert needed(request("OPTIONS", to_tag="")) is None
