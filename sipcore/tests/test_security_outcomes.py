"""Reading authentication outcomes off final responses: what counts as a failure."""

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sipcore.message import Request, make_response
from sipcore.security import Subject
from sipcore.security.outcomes import AuthOutcome, auth_outcome

ALICE = Subject.account("alice", "example.com")
CREDENTIALS = (
    'Digest username="alice", realm="example.com", nonce="n", uri="sip:example.com", '
    'response="0123", qop=auth, nc=00000001, cnonce="c"'
)


def request(method: str = "REGISTER", header: str | None = "Authorization") -> Request:
    headers = [
        ("Via", "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx"),
        ("From", "<sip:alice@example.com>;tag=1"),
        ("To", "<sip:alice@example.com>"),
        ("Call-ID", "c"),
        ("CSeq", f"2 {method}"),
    ]
    if header is not None:
        headers.append((header, CREDENTIALS))
    return Request(method, "sip:example.com", headers)


def response(req: Request, status: int, challenge: str | None = None):
    made = make_response(req, status)
    if challenge is not None:
        made.headers.add("WWW-Authenticate" if status == 401 else "Proxy-Authenticate", challenge)
    return made


@pytest.mark.parametrize(
    ("method", "header", "status"),
    [
        ("REGISTER", "Authorization", 403),
        ("REGISTER", "Authorization", 401),
        ("INVITE", "Proxy-Authorization", 403),
        ("INVITE", "Proxy-Authorization", 407),
    ],
)
def test_refused_credentials_are_failures_of_the_claimed_account(method, header, status):
    req = request(method, header)
    challenge = 'Digest realm="example.com", nonce="m", qop="auth"' if status != 403 else None
    assert auth_outcome(req, response(req, status, challenge)) == AuthOutcome(ALICE, failed=True)


def test_a_stale_rechallenge_is_no_failure():
    req = request()
    stale = 'Digest realm="example.com", nonce="m", qop="auth", stale=true'
    assert auth_outcome(req, response(req, 401, stale)) is None


def test_accepted_credentials_are_a_success():
    req = request()
    assert auth_outcome(req, response(req, 200)) == AuthOutcome(ALICE, failed=False)


@pytest.mark.parametrize("status", [100, 180, 404, 423, 480, 500, 503])
def test_other_answers_say_nothing_about_the_password(status):
    req = request()
    assert auth_outcome(req, response(req, status)) is None


def test_a_request_without_credentials_never_counts():
    req = request(header=None)
    assert auth_outcome(req, response(req, 401, 'Digest realm="x", nonce="m"')) is None
    assert auth_outcome(req, response(req, 403)) is None


def test_unreadable_credentials_do_not_count_but_do_not_crash():
    req = request(header=None)
    req.headers.add("Authorization", 'Digest username="al')
    assert auth_outcome(req, response(req, 403)) is None


def test_a_username_no_account_can_have_still_fails_the_source():
    req = request(header=None)
    req.headers.add(
        "Authorization",
        'Digest username="", realm="example.com", nonce="n", uri="sip:x", response="0"',
    )
    assert auth_outcome(req, response(req, 403)) == AuthOutcome(None, failed=True)


TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=200)


@settings(max_examples=200, deadline=None)
@given(
    credentials=TEXT | TEXT.map(lambda rest: f'Digest username="a", realm="b"{rest}'),
    challenge=TEXT | TEXT.map(lambda rest: f'Digest realm="b", nonce="n"{rest}'),
    status=st.sampled_from([200, 401, 403, 407]),
)
def test_any_credentials_and_challenge_give_an_outcome_never_an_exception(
    credentials, challenge, status
):
    req = request(header=None)
    try:
        req.headers.add("Authorization", credentials)
        made = response(req, status, challenge if status in (401, 407) else None)
    except ValueError:
        assume(False)
    assert auth_outcome(req, made) is None or isinstance(auth_outcome(req, made), AuthOutcome)
