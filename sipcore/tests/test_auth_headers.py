"""Parsing and serialising challenge and credentials header values."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipcore.auth import (
    AuthHeaderError,
    DigestChallenge,
    DigestCredentials,
    OtherScheme,
    parse_challenges,
    parse_credentials,
)

SIP_CHALLENGE = (
    'Digest realm="atlanta.com", domain="sip:boxesbybob.com", qop="auth", '
    'nonce="f84f1cec41e6cbe5aea9c8e88d359", opaque="", stale=FALSE, algorithm=MD5'
)


def test_rfc3261_challenge() -> None:
    (challenge,) = parse_challenges(SIP_CHALLENGE)
    assert challenge == DigestChallenge(
        realm="atlanta.com",
        domain="sip:boxesbybob.com",
        qop=("auth",),
        nonce="f84f1cec41e6cbe5aea9c8e88d359",
        opaque="",
        stale=False,
        algorithm="MD5",
    )


def test_names_and_scheme_are_case_insensitive() -> None:
    (challenge,) = parse_challenges('dIgEsT REALM="r", Nonce="n", QOP="AUTH", Stale=true')
    assert (challenge.realm, challenge.nonce, challenge.qop, challenge.stale) == (
        "r",
        "n",
        ("auth",),
        True,
    )


def test_values_may_be_tokens_or_quoted_with_escapes() -> None:
    (challenge,) = parse_challenges(
        r'Digest realm="a \"b\" \\c", nonce=abc.123, algorithm="SHA-256"'
    )
    assert challenge.realm == 'a "b" \\c'
    assert challenge.nonce == "abc.123"
    assert challenge.algorithm == "SHA-256"


def test_whitespace_empty_elements_and_folding_are_tolerated() -> None:
    value = 'Digest realm = "r" ,\r\n\t, nonce="n",,  qop="auth , auth-int",'
    (challenge,) = parse_challenges(value)
    assert challenge.qop == ("auth", "auth-int")


def test_several_challenges_in_one_value() -> None:
    value = (
        'Digest realm="r", nonce="n1", algorithm=SHA-256, Basic realm="b", '
        'Digest realm="r", nonce="n1", algorithm=MD5, Bearer mF_9.B5f-4.1JqM=='
    )
    challenges = parse_challenges(value)
    assert [type(c) for c in challenges] == [
        DigestChallenge,
        OtherScheme,
        DigestChallenge,
        OtherScheme,
    ]
    assert challenges[1] == OtherScheme(scheme="Basic", params=(("realm", "b"),))
    assert challenges[3] == OtherScheme(scheme="Bearer", token68="mF_9.B5f-4.1JqM==")
    assert [c.algorithm for c in challenges if isinstance(c, DigestChallenge)] == [
        "SHA-256",
        "MD5",
    ]


def test_unknown_parameters_are_kept_and_written_back() -> None:
    value = 'Digest realm="r", nonce="n", algorithm=MD5, charset=UTF-8, x-note="a b"'
    (challenge,) = parse_challenges(value)
    assert challenge.extra == (("charset", "UTF-8"), ("x-note", "a b"))
    assert parse_challenges(str(challenge)) == [challenge]


def test_credentials_serialise_with_sip_quoting() -> None:
    credentials = DigestCredentials(
        username="bob",
        realm="biloxi.com",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        uri="sip:bob@biloxi.com",
        response="6629fae49393a05397450978507c4ef1",
        algorithm="MD5",
        qop="auth",
        nc=0x1F,
        cnonce="0a4f113b",
        opaque="",
    )
    assert str(credentials) == (
        'Digest username="bob", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", '
        'uri="sip:bob@biloxi.com", algorithm=MD5, qop=auth, nc=0000001f, cnonce="0a4f113b", '
        'response="6629fae49393a05397450978507c4ef1", opaque=""'
    )
    assert parse_credentials(str(credentials)) == credentials


def test_other_scheme_credentials_are_returned_uninterpreted() -> None:
    assert parse_credentials("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==") == OtherScheme(
        scheme="Basic", token68="QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
    )


MALFORMED_CHALLENGES = [
    "",
    "   ",
    ",",
    "Digest",
    "Digest realm",
    "Digest abc==",
    'Digest realm="r"',
    'Digest nonce="n"',
    'Digest realm="r" nonce="n"',
    'Digest realm="r", nonce="n", realm="s"',
    'Digest realm="unterminated, nonce="n"',
    'Digest realm="r", nonce="n", stale=maybe',
    'Digest realm="r", nonce="n", qop=""',
    'Digest realm="r", nonce=n/with/slashes',
    'Digest realm="r", nonce="n", =x',
    'Digest realm="r", nonce="n", algorithm="MD 5"',
    'Digest realm="bad\x00nul", nonce="n"',
    'Digest realm="r\\\r\n", nonce="n"',
    '"Digest" realm="r"',
    "Digest\trealm=r,nonce=n;",
    'Digestrealm="r"',
]


@pytest.mark.parametrize("value", MALFORMED_CHALLENGES)
def test_malformed_challenges_raise_auth_header_error(value: str) -> None:
    with pytest.raises(AuthHeaderError):
        parse_challenges(value)


MALFORMED_CREDENTIALS = [
    'Digest realm="r", nonce="n", uri="u", response="x"',
    'Digest username="u", realm="r", nonce="n", uri="u"',
    'Digest username="u", realm="r", nonce="n", uri="u", response="x", qop=auth',
    'Digest username="u", realm="r", nonce="n", uri="u", response="x", qop=auth, nc=1, cnonce="c"',
    'Digest username="u", realm="r", nonce="n", uri="u", response="x", nc=0000000g',
    'Digest username="u", realm="r", nonce="n", uri="u", response="x", Basic abc',
    'Digest username="u", username="v", realm="r", nonce="n", uri="u", response="x"',
]


@pytest.mark.parametrize("value", MALFORMED_CREDENTIALS)
def test_malformed_credentials_raise_auth_header_error(value: str) -> None:
    with pytest.raises(AuthHeaderError):
        parse_credentials(value)


def test_auth_header_error_is_a_value_error() -> None:
    assert issubclass(AuthHeaderError, ValueError)


@pytest.mark.parametrize("bad", ["a\r\nVia: injected", "nul\x00", "bell\x07"])
def test_serialising_refuses_control_characters(bad: str) -> None:
    with pytest.raises(AuthHeaderError):
        str(DigestChallenge(realm=bad, nonce="n"))


def test_token_fields_are_validated_when_built() -> None:
    with pytest.raises(AuthHeaderError):
        DigestChallenge(realm="r", nonce="n", algorithm="MD5, stale=true")
    with pytest.raises(AuthHeaderError):
        DigestCredentials(username="u", realm="r", nonce="n", uri="u", response="x", nc=2**32)


FRAGMENTS = st.sampled_from(
    [
        "Digest",
        "Basic",
        " ",
        "\t",
        "\r\n ",
        ",",
        "=",
        '"',
        "\\",
        "realm",
        "nonce",
        "qop",
        "nc",
        "stale",
        "username",
        "uri",
        "response",
        "cnonce",
        "auth",
        "00000001",
        "true",
        "abc==",
        "é",
        "\x00",
    ]
)
HEADERISH = st.lists(FRAGMENTS | st.text(max_size=4), max_size=30).map("".join)


@given(st.text() | HEADERISH)
def test_challenge_parser_raises_only_auth_header_error(text: str) -> None:
    try:
        challenges = parse_challenges(text)
    except AuthHeaderError:
        return
    assert challenges


@given(st.text() | HEADERISH)
def test_credentials_parser_raises_only_auth_header_error(text: str) -> None:
    try:
        parse_credentials(text)
    except AuthHeaderError:
        return


SENDABLE = st.text(st.characters(blacklist_categories=("Cc", "Cs")) | st.sampled_from(" \t"))
TOKENS = st.from_regex(r"[A-Za-z0-9.!%*_+`'~-]{1,12}", fullmatch=True)


@given(
    realm=SENDABLE,
    nonce=SENDABLE,
    algorithm=TOKENS,
    qop=st.lists(TOKENS.map(str.lower), max_size=3).map(tuple),
    opaque=st.none() | SENDABLE,
    stale=st.booleans(),
    domain=st.none() | SENDABLE,
)
def test_challenge_round_trips(realm, nonce, algorithm, qop, opaque, stale, domain) -> None:
    challenge = DigestChallenge(
        realm=realm,
        nonce=nonce,
        algorithm=algorithm,
        qop=qop,
        opaque=opaque,
        stale=stale,
        domain=domain,
    )
    assert parse_challenges(str(challenge)) == [challenge]


@given(
    username=SENDABLE,
    uri=SENDABLE,
    response=SENDABLE,
    nc=st.integers(0, 0xFFFFFFFF),
    cnonce=SENDABLE,
    algorithm=st.none() | TOKENS,
)
def test_credentials_round_trip(username, uri, response, nc, cnonce, algorithm) -> None:
    credentials = DigestCredentials(
        username=username,
        realm="r",
        nonce="n",
        uri=uri,
        response=response,
        algorithm=algorithm,
        qop="auth",
        nc=nc,
        cnonce=cnonce,
    )
    assert parse_credentials(str(credentials)) == credentials
