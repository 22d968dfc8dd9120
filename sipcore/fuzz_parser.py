"""Coverage-guided fuzzing of the message parser with atheris (libFuzzer).

Run: ``nice -n 10 .venv/bin/python -m sipcore.fuzz_parser CORPUS_DIR [SEED_DIR ...]
-max_total_time=600`` (any libFuzzer flag works). The kept corpus lives in
``sipcore/tests/corpus/fuzz/`` and ``test_message_fuzz_corpus.py`` replays
it through ``check_invariants`` on every test run, so whatever the fuzzer
found stays fixed.
"""

from __future__ import annotations

import contextlib
import sys

from sipcore.message import (
    URI,
    Address,
    CSeq,
    ParseError,
    Replaces,
    Request,
    StreamFramer,
    Via,
    make_response,
    parse_message,
)
from sipcore.message.headers import split_list

_ACCESSORS = (
    "vias", "top_via", "from_addr", "to_addr", "call_id", "cseq", "max_forwards", "contacts",
    "contact_star", "routes", "record_routes", "expires", "min_expires", "content_type",
    "refer_to", "referred_by", "replaces", "event", "subscription_state", "refer_sub",
    "supported", "require", "proxy_require", "unsupported", "allow",
)  # fmt: skip


class InvariantBroken(AssertionError):
    """The parser did something it promises never to do."""


def check_invariants(data: bytes) -> None:
    """Every property the parser promises, checked on one input.

    Only ``ParseError`` may come out of parsing or of any accessor; a parse
    error that wraps another exception is a parser bug; a partial request
    must be answerable; a parsed message serialises and parses back equal;
    the stream framer gives the same result whole or split in two.
    """
    try:
        message = parse_message(data)
    except ParseError as exc:
        if exc.__cause__ is not None:
            raise InvariantBroken(f"parser bug behind {exc.reason!r}") from exc.__cause__
        if exc.request is not None:
            make_response(exc.request, exc.status_hint or 400, exc.reason[:100]).to_bytes()
        message = None
    if message is not None:
        _read_everything(message)
        wire = message.to_bytes()
        again = parse_message(wire, max_size=len(wire))
        if again != message:
            raise InvariantBroken(f"round trip changed the message: {wire[:200]!r}")
    _check_framer(data)
    _check_value_parsers(data.split(b"\n", 1)[0].decode("utf-8", "surrogateescape"))


def _check_value_parsers(text: str) -> None:
    """The input's first line as a header value: each value parser refuses or round-trips."""
    for parse in (URI.parse, Address.parse, Via.parse, CSeq.parse, Replaces.parse):
        try:
            value = parse(text)
        except ParseError:
            continue
        _same(parse(str(value)), value)
    with contextlib.suppress(ParseError):
        split_list(text)


def _read_everything(message: object) -> None:
    for name in _ACCESSORS:
        try:
            value = getattr(message, name)
        except ParseError:
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, Via):
                _same(Via.parse(str(item)), item)
            elif isinstance(item, Address):
                _same(Address.parse(str(item)), item)
                str(item.uri)
    if isinstance(message, Request):
        try:
            uri = message.uri
        except ParseError:
            return
        _same(type(uri).parse(str(uri)), uri)


def _same(again: object, original: object) -> None:
    if again != original:
        raise InvariantBroken(f"{original!r} printed and parsed back as {again!r}")


def _check_framer(data: bytes) -> None:
    outcomes = []
    for chunks in ([data], [data[: len(data) // 2], data[len(data) // 2 :]]):
        framer = StreamFramer()
        messages: list[bytes] = []
        for chunk in chunks:
            try:
                messages += framer.feed(chunk)
            except ParseError:
                break
        outcomes.append((messages, framer.error is not None))
    if outcomes[0] != outcomes[1]:
        raise InvariantBroken("the stream framer depends on how the bytes were split")


def main() -> None:
    import atheris  # only the fuzzing run needs it

    atheris.instrument_all()
    # libFuzzer re-runs argv[0] through the shell for -merge and -fork: make it a
    # command that works (this file is a module, not an executable).
    command = f"{sys.executable} -m sipcore.fuzz_parser"
    atheris.Setup([command, *sys.argv[1:]], check_invariants)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
