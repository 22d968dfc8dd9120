"""DigestServer: challenges, verification outcomes, nonce expiry and replay refusal."""

import dataclasses
import hashlib

import pytest

from sipcore.auth import (
    Accepted,
    DigestAttempt,
    DigestClient,
    DigestServer,
    MemoryNonceCounterStore,
    Rejected,
    RejectReason,
    ha1,
    parse_challenges,
    parse_credentials,
)

SECRET = b"shared-worker-secret-0123456789"
REALM = "example.com"
URI = "sip:example.com"
T0 = 1_800_000_000.0
PASSWORDS = {"alice": "wonderland"}


def lookup(username: str, realm: str, algorithm: str) -> str | None:
    password = PASSWORDS.get(username)
    return None if password is None else ha1(username, realm, password, algorithm)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server() -> DigestServer:
    store = MemoryNonceCounterStore(lifetime=300.0, clock=FakeClock())
    return DigestServer(secret=SECRET, counter_store=store)


def answer(
    challenges: list[str],
    *,
    username: str = "alice",
    password: str = "wonderland",
    method: str = "REGISTER",
    uri: str = URI,
) -> str:
    client = DigestClient(username=username, password=password)
    return client.authorize(challenges, method=method, uri=uri)


async def verify(server: DigestServer, authorization: list[str], *, now: float = T0 + 1, **kwargs):
    arguments = {"method": "REGISTER", "uri": URI, "realm": REALM, "lookup": lookup, **kwargs}
    return await server.verify(authorization, now=now, **arguments)


def parsed(values: list[str]):
    return [parse_challenges(value)[0] for value in values]


def test_challenge_offers_sha256_first_then_md5_with_qop_and_opaque(server) -> None:
    challenges = parsed(server.challenge(REALM, now=T0))
    assert [c.algorithm for c in challenges] == ["SHA-256", "MD5"]
    assert all(c.qop == ("auth",) and c.realm == REALM and c.opaque for c in challenges)
    assert len({c.nonce for c in challenges}) == 1
    assert not any(c.stale for c in challenges)


def test_challenge_after_stale_says_so(server) -> None:
    assert all(c.stale for c in parsed(server.challenge(REALM, now=T0, stale=True)))


def test_each_challenge_has_a_fresh_nonce(server) -> None:
    first, second = (parsed(server.challenge(REALM, now=T0))[0] for _ in range(2))
    assert first.nonce != second.nonce


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
async def test_round_trip_accepted(algorithm: str) -> None:
    server = DigestServer(secret=SECRET, algorithms=[algorithm])
    authorization = answer(server.challenge(REALM, now=T0))
    assert parse_credentials(authorization).algorithm == algorithm
    assert await verify(server, [authorization]) == Accepted(
        username="alice", realm=REALM, algorithm=algorithm
    )


async def test_client_answers_sha256_when_both_are_offered(server) -> None:
    result = await verify(server, [answer(server.challenge(REALM, now=T0))])
    assert result == Accepted(username="alice", realm=REALM, algorithm="SHA-256")


async def test_wrong_password_rejected(server) -> None:
    result = await verify(server, [answer(server.challenge(REALM, now=T0), password="guess")])
    assert result == Rejected(reason=RejectReason.BAD_CREDENTIALS, stale=False, username="alice")
    assert result.is_failure


async def test_unknown_user_rejected_exactly_like_a_wrong_password(server) -> None:
    challenges = server.challenge(REALM, now=T0)
    unknown = await verify(server, [answer(challenges, username="mallory", password="x")])
    wrong = await verify(server, [answer(challenges, username="alice", password="x")])
    assert unknown == Rejected(reason=RejectReason.BAD_CREDENTIALS, username="mallory")
    assert dataclasses.replace(unknown, username="alice") == wrong


async def test_unknown_user_costs_the_same_hashing_as_a_known_one(server, monkeypatch) -> None:
    calls: list[str] = []
    real_new = hashlib.new

    def counting_new(name, *args, **kwargs):
        calls.append(name)
        return real_new(name, *args, **kwargs)

    challenges = server.challenge(REALM, now=T0)
    attempts = {}
    for username in ("alice", "mallory"):
        attempt = server.examine(
            [answer(challenges, username=username, password="x")],
            method="REGISTER",
            uri=URI,
            realm=REALM,
            now=T0 + 1,
        )
        assert isinstance(attempt, DigestAttempt)
        attempts[username] = attempt
    known_ha1 = lookup("alice", REALM, "SHA-256")
    monkeypatch.setattr(hashlib, "new", counting_new)
    await server.decide(attempts["alice"], known_ha1)
    known_calls = list(calls)
    calls.clear()
    await server.decide(attempts["mallory"], None)
    assert calls == known_calls


async def test_two_step_verification_for_async_lookups(server) -> None:
    attempt = server.examine(
        [answer(server.challenge(REALM, now=T0))],
        method="REGISTER",
        uri=URI,
        realm=REALM,
        now=T0 + 1,
    )
    assert isinstance(attempt, DigestAttempt)
    assert (attempt.username, attempt.realm, attempt.algorithm) == ("alice", REALM, "SHA-256")
    assert await server.decide(attempt, lookup("alice", REALM, "SHA-256")) == Accepted(
        username="alice", realm=REALM, algorithm="SHA-256"
    )


async def test_expired_nonce_with_right_credentials_is_stale(server) -> None:
    authorization = answer(server.challenge(REALM, now=T0))
    result = await verify(server, [authorization], now=T0 + 301)
    assert result == Rejected(reason=RejectReason.NONCE_EXPIRED, stale=True, username="alice")
    assert not result.is_failure


async def test_expired_nonce_with_wrong_password_is_not_stale(server) -> None:
    authorization = answer(server.challenge(REALM, now=T0), password="guess")
    result = await verify(server, [authorization], now=T0 + 301)
    assert result == Rejected(reason=RejectReason.BAD_CREDENTIALS, username="alice")


async def test_nonce_lifetime_is_configurable() -> None:
    server = DigestServer(secret=SECRET, nonce_lifetime=30.0)
    authorization = answer(server.challenge(REALM, now=T0))
    assert (await verify(server, [authorization], now=T0 + 31)).reason is RejectReason.NONCE_EXPIRED


async def test_nonce_from_the_future_beyond_clock_skew_is_stale(server) -> None:
    authorization = answer(server.challenge(REALM, now=T0 + 60))
    result = await verify(server, [authorization], now=T0)
    assert (result.reason, result.stale) == (RejectReason.NONCE_EXPIRED, True)


async def test_replayed_nc_refused(server) -> None:
    authorization = answer(server.challenge(REALM, now=T0))
    assert isinstance(await verify(server, [authorization]), Accepted)
    replay = await verify(server, [authorization], now=T0 + 2)
    assert replay == Rejected(reason=RejectReason.NC_REPLAY, stale=True, username="alice")


async def test_the_injected_counter_store_records_the_use() -> None:
    counters = MemoryNonceCounterStore(lifetime=305.0, clock=FakeClock())
    server = DigestServer(secret=SECRET, counter_store=counters)
    authorization = answer(server.challenge(REALM, now=T0))
    assert isinstance(await verify(server, [authorization]), Accepted)
    assert not await counters.check_and_record(parse_credentials(authorization).nonce, 1)


async def test_next_nc_on_the_same_nonce_accepted(server) -> None:
    client = DigestClient(username="alice", password="wonderland")
    first = client.authorize(server.challenge(REALM, now=T0), method="REGISTER", uri=URI)
    second = client.reauthorize(method="REGISTER", uri=URI)
    assert isinstance(await verify(server, [second]), Accepted)
    assert isinstance(await verify(server, [first]), Accepted)
    assert parse_credentials(second).nc == 2


async def test_wrong_response_does_not_burn_the_nc(server) -> None:
    challenges = server.challenge(REALM, now=T0)
    forged = answer(challenges, password="guess")
    assert (await verify(server, [forged])).reason is RejectReason.BAD_CREDENTIALS
    assert isinstance(await verify(server, [answer(challenges)]), Accepted)


def tamper(nonce: str) -> str:
    flipped = "A" if nonce[20] != "A" else "B"
    return nonce[:20] + flipped + nonce[21:]


async def test_tampered_nonce_refused(server) -> None:
    challenges = [
        str(dataclasses.replace(c, nonce=tamper(c.nonce)))
        for c in parsed(server.challenge(REALM, now=T0))
    ]
    result = await verify(server, [answer(challenges)])
    assert result == Rejected(reason=RejectReason.NONCE_INVALID, username="alice")
    assert result.is_failure


@pytest.mark.parametrize("nonce", ["", "short", "x" * 64, "!" * 64, "A" * 200])
async def test_garbage_nonce_refused(server, nonce: str) -> None:
    challenge = f'Digest realm="{REALM}", nonce="{nonce}", qop="auth", algorithm=SHA-256'
    assert (await verify(server, [answer([challenge])])).reason is RejectReason.NONCE_INVALID


async def test_nonce_from_another_secret_refused(server) -> None:
    other = DigestServer(secret=b"another-secret-entirely-0123456")
    result = await verify(server, [answer(other.challenge(REALM, now=T0))])
    assert result.reason is RejectReason.NONCE_INVALID


async def test_nonce_for_another_realm_refused(server) -> None:
    challenges = [
        str(dataclasses.replace(c, realm=REALM)) for c in parsed(server.challenge("other", now=T0))
    ]
    assert (await verify(server, [answer(challenges)])).reason is RejectReason.NONCE_INVALID


async def test_old_secret_still_verifies_during_rotation() -> None:
    old = DigestServer(secret=SECRET)
    rotated = DigestServer(secret=b"the-new-shared-secret-987654321", old_secrets=[SECRET])
    assert isinstance(await verify(rotated, [answer(old.challenge(REALM, now=T0))]), Accepted)


async def test_uri_mismatch_refused(server) -> None:
    authorization = answer(server.challenge(REALM, now=T0), uri="sip:elsewhere.example")
    result = await verify(server, [authorization])
    assert result == Rejected(reason=RejectReason.URI_MISMATCH, username="alice")


async def test_opaque_must_be_echoed(server) -> None:
    credentials = parse_credentials(answer(server.challenge(REALM, now=T0)))
    for opaque in (None, "not-ours"):
        altered = str(dataclasses.replace(credentials, opaque=opaque))
        assert (await verify(server, [altered])).reason is RejectReason.OPAQUE_MISMATCH


async def test_algorithm_not_offered_is_unsupported() -> None:
    server = DigestServer(secret=SECRET, algorithms=["MD5"])
    challenges = [
        str(dataclasses.replace(c, algorithm="SHA-256"))
        for c in parsed(server.challenge(REALM, now=T0))
    ]
    assert (await verify(server, [answer(challenges)])).reason is RejectReason.UNSUPPORTED


async def test_qop_auth_int_is_unsupported(server) -> None:
    credentials = parse_credentials(answer(server.challenge(REALM, now=T0)))
    altered = str(dataclasses.replace(credentials, qop="auth-int"))
    assert (await verify(server, [altered])).reason is RejectReason.UNSUPPORTED


def rfc2069_answer(server: DigestServer) -> str:
    challenges = [
        str(dataclasses.replace(c, qop=())) for c in parsed(server.challenge(REALM, now=T0))
    ]
    authorization = answer(challenges)
    assert parse_credentials(authorization).qop is None
    return authorization


async def test_rfc2069_answer_refused_by_default(server) -> None:
    assert (await verify(server, [rfc2069_answer(server)])).reason is RejectReason.UNSUPPORTED


async def test_rfc2069_answer_accepted_when_configured() -> None:
    server = DigestServer(secret=SECRET, allow_rfc2069=True)
    assert isinstance(await verify(server, [rfc2069_answer(server)]), Accepted)


async def test_missing_credentials_are_not_a_failure(server) -> None:
    result = await verify(server, [])
    assert result == Rejected(reason=RejectReason.MISSING)
    assert not result.is_failure


async def test_credentials_for_another_realm_or_scheme_count_as_missing(server) -> None:
    foreign = answer(server.challenge("proxy.example.net", now=T0))
    result = await verify(server, [foreign, "Basic YWxpY2U6d29uZGVybGFuZA=="])
    assert result.reason is RejectReason.MISSING


async def test_the_credentials_for_our_realm_are_picked_among_several(server) -> None:
    foreign = answer(server.challenge("proxy.example.net", now=T0))
    ours = answer(server.challenge(REALM, now=T0))
    assert isinstance(await verify(server, ['Digest realm="broken', foreign, ours]), Accepted)


@pytest.mark.parametrize("value", ['Digest realm="unterminated', "Digest", "", "\x00"])
async def test_malformed_credentials_are_a_failure(server, value: str) -> None:
    result = await verify(server, [value])
    assert result == Rejected(reason=RejectReason.MALFORMED)
    assert result.is_failure


async def test_uppercase_hex_response_accepted(server) -> None:
    credentials = parse_credentials(answer(server.challenge(REALM, now=T0)))
    upper = str(dataclasses.replace(credentials, response=credentials.response.upper()))
    assert isinstance(await verify(server, [upper]), Accepted)


async def test_single_string_instead_of_a_list_is_a_caller_error(server) -> None:
    with pytest.raises(TypeError):
        await verify(server, answer(server.challenge(REALM, now=T0)))


@pytest.mark.parametrize("algorithms", [[], ["sha-256"], ["SHA-256", "MD5-sess"]])
def test_bad_algorithm_configuration_refused(algorithms: list[str]) -> None:
    with pytest.raises(ValueError):
        DigestServer(secret=SECRET, algorithms=algorithms)


def test_short_secret_refused() -> None:
    with pytest.raises(ValueError):
        DigestServer(secret=b"short")
