"""StreamFramer: TCP framing by Content-Length, fed whole, byte by byte and in pieces."""

from __future__ import annotations

import pytest

from sipcore.message import ParseError, StreamFramer, parse_message


def message(call_id: str, body: bytes = b"", length_header: str = "Content-Length") -> bytes:
    return (
        b"MESSAGE sip:bob@example.com SIP/2.0\r\n"
        b"Via: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK" + call_id.encode() + b"\r\n"
        b"From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n"
        b"Call-ID: "
        + call_id.encode()
        + b"\r\nCSeq: 1 MESSAGE\r\n"
        + length_header.encode()
        + b": "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


STREAM = (
    b"\r\n\r\n"
    + message("one", b"hello")
    + b"\r\n\r\n"
    + message("two", b"\r\n\r\nbody with blank lines\r\n\r\n", "l")
    + message("three")
    + b"\r\n"
)


def feed_all(chunks: list[bytes]) -> list[bytes]:
    framer = StreamFramer()
    out = [m for chunk in chunks for m in framer.feed(chunk)]
    assert framer.error is None
    return out


def test_message_framer_whole_byte_by_byte_and_trailing_data() -> None:
    whole = feed_all([STREAM])
    assert [parse_message(m).call_id for m in whole] == ["one", "two", "three"]
    assert feed_all([STREAM[i : i + 1] for i in range(len(STREAM))]) == whole
    framer = StreamFramer()
    first = STREAM.index(b"MESSAGE sip", 10)
    assert framer.feed(STREAM[: first + 20]) == whole[:1]
    assert framer.buffered == 20
    assert framer.feed(STREAM[first + 20 :]) == whole[1:]


def test_message_framer_partial_reads_return_nothing_until_complete() -> None:
    framer = StreamFramer()
    data = message("partial", b"0123456789")
    assert framer.feed(data[:30]) == []
    assert framer.feed(data[30:-1]) == []
    assert framer.feed(data[-1:]) == [data]
    assert framer.feed(b"\r\n\r\n") == [] and framer.buffered == 0


def test_message_framer_requires_content_length_on_a_stream() -> None:
    framer = StreamFramer()
    without = message("nocl").replace(b"Content-Length: 0\r\n", b"")
    with pytest.raises(ParseError, match="without Content-Length"):
        framer.feed(without)
    with pytest.raises(ParseError):
        framer.feed(message("after"))


@pytest.mark.parametrize(
    "bad",
    [b"Content-Length: -1", b"Content-Length: ten", b"Content-Length: 1\r\nl: 2"],
)
def test_message_framer_refuses_bad_content_length(bad: bytes) -> None:
    with pytest.raises(ParseError, match="Content-Length"):
        StreamFramer().feed(message("bad").replace(b"Content-Length: 0", bad))


def test_message_framer_bounds_the_header_section() -> None:
    framer = StreamFramer(max_message_size=1000)
    assert framer.feed(b"OPTIONS sip:a@b SIP/2.0\r\nX-Pad: " + b"a" * 900) == []
    with pytest.raises(ParseError, match="limit"):
        framer.feed(b"a" * 200)
    assert framer.buffered == 0


def test_message_framer_refuses_an_oversized_body_before_it_arrives() -> None:
    framer = StreamFramer(max_message_size=1000)
    head = message("big").replace(b"Content-Length: 0", b"Content-Length: 5000")
    with pytest.raises(ParseError, match="limit"):
        framer.feed(head)


def test_message_framer_keeps_good_messages_before_a_framing_error() -> None:
    framer = StreamFramer()
    good = message("good")
    assert framer.feed(good + b"garbage without end\r\n\r\n") == [good]
    assert framer.error is not None
    with pytest.raises(ParseError):
        framer.feed(b"")


def test_message_framer_folded_content_length() -> None:
    data = message("fold", b"abc").replace(b"Content-Length: 3", b"Content-Length:\r\n 3")
    assert feed_all([data]) == [data]
    assert parse_message(data).body == b"abc"


def test_message_framer_counts_keepalive_pings_however_they_arrive() -> None:
    stream = b"\r\n\r\n" + message("p1") + b"\r\n" + message("p2") + b"\r\n\r\n\r\n\r\n"
    whole = StreamFramer()
    assert len(whole.feed(stream)) == 2
    assert whole.pings_received == 3
    by_byte = StreamFramer()
    assert len([m for i in range(len(stream)) for m in by_byte.feed(stream[i : i + 1])]) == 2
    assert by_byte.pings_received == 3
    assert by_byte.buffered == 0
