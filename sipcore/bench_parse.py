"""How fast the message layer parses and serialises a typical INVITE on one core.

``run_parse_bench()`` is called by ``python -m sipcore.bench``; it returns the
figures instead of printing them so the caller decides the report format.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from sipcore.message import parse_message
from sipcore.message.memo import forget_all

_SDP = (
    b"v=0\r\n"
    b"o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n"
    b"s=-\r\n"
    b"c=IN IP4 192.0.2.10\r\n"
    b"t=0 0\r\n"
    b"m=audio 49170 RTP/AVP 0 8 101\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
    b"a=sendrecv\r\n"
)

TYPICAL_INVITE = (
    b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>\r\n"
    b'From: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774\r\n'
    b"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:alice@192.0.2.10:5060;transport=udp>\r\n"
    b"Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY\r\n"
    b"Supported: replaces, timer\r\n"
    b"User-Agent: sipcore-bench/1.0\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: " + str(len(_SDP)).encode() + b"\r\n"
    b"\r\n" + _SDP
)


def _rates(operation: Callable[[], object], seconds: float, batch: int = 500) -> list[float]:
    """Calls per CPU-second of ``operation``, one figure per batch, over about ``seconds``.

    CPU time of this process, not wall time: "per second on one core" then
    means the same thing on a busy shared machine as on an idle one.
    """
    rates: list[float] = []
    deadline = time.process_time() + seconds
    while time.process_time() < deadline or len(rates) < 3:
        start = time.process_time()
        for _ in range(batch):
            operation()
        rates.append(batch / (time.process_time() - start))
    return rates


def run_parse_bench(seconds: float = 2.0) -> dict[str, float]:
    """Typical INVITEs parsed/s (lazy), parsed and read/s, serialised/s, on one core.

    "Parsed and read" parses the same text again and again, so its URIs, addresses and Vias
    come from the message layer's memo (``sipcore.message.memo``) after the first time, as the
    repeated values of one call's messages do; "first parsed and read" empties the memo before
    each parse: the cost for values never seen before.

    Each figure is measured in batches; ``*_per_s`` is the median batch and
    ``*_best_per_s`` the fastest (the timeit convention: the least disturbed
    by other processes on a shared machine).
    """
    message = parse_message(TYPICAL_INVITE)

    def parse_and_read() -> None:
        parsed = parse_message(TYPICAL_INVITE)
        _ = (parsed.top_via.branch, parsed.from_addr.tag, parsed.to_addr.tag, parsed.call_id,
             parsed.cseq, parsed.contacts, parsed.max_forwards)  # fmt: skip

    def first_parse_and_read() -> None:
        forget_all()
        parse_and_read()

    figures: dict[str, float] = {"invite_bytes": float(len(TYPICAL_INVITE))}
    for name, operation in (
        ("parsed", lambda: parse_message(TYPICAL_INVITE)),
        ("parsed_and_read", parse_and_read),
        ("first_parsed_and_read", first_parse_and_read),
        ("serialised", message.to_bytes),
    ):
        rates = _rates(operation, seconds)
        figures[f"{name}_per_s"] = statistics.median(rates)
        figures[f"{name}_best_per_s"] = max(rates)
    return figures
