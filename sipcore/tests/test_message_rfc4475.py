"""The 49 RFC 4475 torture messages, read from the shared copy beside the repository.

CI clones the repository next to a copy of ``shared/``, so the vectors are
found at ``<repo root>/../shared/rfc4475``. When that folder is missing the
tests skip, and under CI=true the root conftest turns that skip into a failure.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sipcore.message import ParseError, Request, Response, StreamFramer, parse_message

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "rfc4475"


def _index() -> dict[str, dict]:
    index = VECTORS / "index.json"
    return json.loads(index.read_text()) if index.is_file() else {}


INDEX = _index()


def _names(*kinds: str) -> list[str]:
    return sorted(name for name, info in INDEX.items() if info["kind"] in kinds) or ["<missing>"]


def _load(name: str) -> bytes:
    if not INDEX:
        pytest.skip(f"RFC 4475 vectors not found at {VECTORS}")
    return (VECTORS / f"{name}.dat").read_bytes()


def test_message_all_49_vectors_are_indexed() -> None:
    if not INDEX:
        pytest.skip(f"RFC 4475 vectors not found at {VECTORS}")
    assert len(INDEX) == 49
    assert all((VECTORS / f"{name}.dat").is_file() for name in INDEX)


# Kinds the RFC says a parser must accept: valid, transaction (badbranch),
# backward (inv2543) and the application-level ones that are well-formed.
ACCEPTED = [n for n in _names("valid", "transaction", "backward", "application")
            if n not in ("insuf", "multi01", "mcl01")]  # fmt: skip
# Application-level vectors that are malformed at the message level.
REFUSED_APPLICATION = ["insuf", "multi01", "mcl01"]


@pytest.mark.parametrize("name", ACCEPTED)
def test_message_accepted_vector_parses_and_round_trips(name: str) -> None:
    data = _load(name)
    message = parse_message(data)
    info = INDEX[name]
    assert isinstance(message, Request if info["is_request"] else Response)
    if info["is_request"]:
        assert message.method == info["method"]
        assert message.cseq.method == message.method
    assert message.call_id
    assert message.vias
    message.from_addr, message.to_addr  # noqa: B018  (each must parse)
    assert parse_message(message.to_bytes()) == message


@pytest.mark.parametrize("name", _names("invalid") + REFUSED_APPLICATION)
def test_message_invalid_vector_is_refused(name: str) -> None:
    data = _load(name)
    with pytest.raises(ParseError) as caught:
        parse_message(data)
    error = caught.value
    assert error.reason
    if INDEX[name]["is_request"]:
        assert error.status_hint == (505 if name == "badvers" else 400), error.reason
        assert error.request is not None
        assert error.request.method == INDEX[name]["method"]
    else:
        assert error.status_hint is None
        assert error.request is None


def _get(name: str) -> Request | Response:
    return parse_message(_load(name))


def test_message_wsinv_tortuous_whitespace() -> None:
    message = _get("wsinv")
    assert message.to_addr.tag == "1918181833n"
    assert message.from_addr.display_name == 'J Rosenberg \\"'
    assert message.from_addr.tag == "98asjd8"
    assert message.max_forwards == 68
    assert (message.cseq.seq, message.cseq.method) == (9, "INVITE")
    assert [(v.transport, v.host, v.branch) for v in message.vias] == [
        ("UDP", "192.0.2.2", "390skdjuw"),
        ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239"),
    ]
    assert message.headers.get("Subject") == ""
    assert message.headers.get("NewFangledHeader") == (
        "newfangled value continued newfangled value"
    )
    assert message.headers.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    (contact,) = message.contacts
    assert contact.display_name == 'Quoted string ""'
    assert dict(contact.params) == {"newparam": "newvalue", "secondparam": None, "q": "0.33"}
    assert len(message.body) == 150


def test_message_intmeth_wide_character_range() -> None:
    message = _get("intmeth")
    assert message.uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert message.uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert message.to_addr.display_name == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert message.from_addr.display_name == "token1~` token2'+_ token3*%!.-"
    assert message.from_addr.tag == "_token~1'+`*%!-."
    assert message.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert message.top_via.branch == "z9hG4bK-.!%66*_+`'~"


def test_message_escapes_decode_once() -> None:
    message = _get("esc01")
    assert message.uri.user == "sips:user@example.com"
    assert message.to_addr.uri.user == "user"
    assert message.from_addr.uri.user == "I have spaces"
    (contact,) = message.contacts
    assert contact.uri.user == "caller"
    assert dict(contact.uri.params) == {"lr": None, "name": "value%41"}


def test_message_escaped_nulls_are_not_cut() -> None:
    message = _get("escnull")
    assert [c.uri.user for c in message.contacts] == ["\x00", "\x00\x00"]


def test_message_percent_that_is_not_an_escape() -> None:
    message = _get("esc02")
    assert message.method == "RE%47IST%45R"
    assert len(message.contacts) == 2
    assert message.headers.get("C%6Fntact") == "<sip:alias2@host2.example.com>"


def test_message_long_values_and_34_vias() -> None:
    message = _get("longreq")
    assert len(message.vias) == 34
    assert message.vias[-1].received == "192.0.2.5"
    assert message.to_addr.uri.port == 6000


def test_message_trailing_datagram_octets_are_ignored_but_frame_on_tcp() -> None:
    data = _load("dblreq")
    message = parse_message(data)
    assert message.method == "REGISTER"
    assert message.body == b""
    # On a stream the INVITE is a second message; its Content-Length (150)
    # is one short of its body, so the stray "C" after it cannot be framed.
    framer = StreamFramer()
    first, second = framer.feed(data)
    assert parse_message(first).method == "REGISTER"
    assert parse_message(second).method == "INVITE"
    assert framer.error is not None
    with pytest.raises(ParseError):
        framer.feed(b"")


def test_message_semicolon_in_user_part() -> None:
    assert _get("semiuri").uri.user == "user;par=u@example.net"


def test_message_unknown_transports() -> None:
    transports = [v.transport for v in _get("transports").vias]
    assert transports == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]


def test_message_multipart_binary_body_framed_by_content_length() -> None:
    message = _get("mpart01")
    assert len(message.body) == 553
    assert b"\x00" in message.body
    assert message.content_type == "multipart/mixed"


def test_message_unusual_and_empty_reason_phrases() -> None:
    assert _get("unreason").reason.endswith("простое")
    assert _get("noreason").reason == ""


def test_message_unknown_schemes_stay_opaque() -> None:
    assert _get("unkscm").uri.opaque == "totallyopaquecontent"
    novel = _get("novelsc").uri
    assert (novel.scheme, novel.opaque) == ("soap.beep", "//192.0.2.103:3002")
    register = _get("unksm2")
    assert str(register.to_addr.uri) == "isbn:2983792873"
    assert register.from_addr.uri.scheme == "http"
    assert str(register.contacts[0].uri) == "name:John_Smith"


def test_message_contact_param_versus_uri_param() -> None:
    (bare,) = _get("cparam01").contacts
    assert "unknownparam" in bare.params and "unknownparam" not in bare.uri.params
    (bracketed,) = _get("cparam02").contacts
    assert "unknownparam" in bracketed.uri.params and "unknownparam" not in bracketed.params


def test_message_escaped_header_in_contact_uri_is_kept() -> None:
    (contact,) = _get("regescrt").contacts
    assert dict(contact.uri.headers) == {"Route": "<sip:sip.example.com>"}
    assert str(contact.uri) == "sip:user@example.com?Route=%3Csip:sip.example.com%3E"


def test_message_application_level_vectors() -> None:
    assert _get("bext01").require == {"nothingSupportsThis", "nothingSupportsThisEither"}
    assert _get("zeromf").max_forwards == 0
    assert _get("invut").content_type == "application/unknownformat"
    assert _get("regaut01").headers.get("Authorization") == "NoOneKnowsThisScheme opaque-data=here"
    assert _get("bcast").vias[1].host == "255.255.255.255"
    assert _get("badbranch").top_via.branch == "z9hG4bK"
    assert not _get("badbranch").top_via.has_magic_cookie


def test_message_rfc2543_request_is_accepted() -> None:
    message = _get("inv2543")
    assert message.top_via.branch is None
    assert message.from_addr.tag is None
    assert message.max_forwards is None
    assert message.headers.get("Content-Length") is None
    assert message.body.startswith(b"v=0")
