"""DigestClient: choosing among challenges, nc counting, stale retries and refusals."""

import pytest

from sipcore.auth import (
    Accepted,
    CredentialsRejected,
    DigestClient,
    DigestServer,
    NoUsableChallenge,
    ha1,
    parse_credentials,
)

REALM = "sip.provider.example"
URI = "sip:sip.provider.example"
T0 = 1_800_000_000.0


def challenge(algorithm: str = "MD5", *, nonce: str = "n1", realm: str = REALM, **extra) -> str:
    params = "".join(f", {name}={value}" for name, value in extra.items())
    return f'Digest realm="{realm}", nonce="{nonce}", qop="auth", algorithm={algorithm}{params}'


def client(**kwargs) -> DigestClient:
    return DigestClient(**{"username": "acme", "password": "s3cret", **kwargs})


def chosen(values: list[str], **kwargs) -> str | None:
    answer = client(**kwargs).authorize(values, method="REGISTER", uri=URI)
    return parse_credentials(answer).algorithm


@pytest.mark.parametrize(
    ("offered", "expected"),
    [
        (["MD5", "SHA-256"], "SHA-256"),
        (["SHA-256", "MD5"], "SHA-256"),
        (["MD5", "SHA-512-256", "SHA-256"], "SHA-512-256"),
        (["md5"], "MD5"),
        (["MD5-sess", "MD5"], "MD5"),
    ],
)
def test_strongest_known_algorithm_is_chosen(offered: list[str], expected: str) -> None:
    assert chosen([challenge(algorithm) for algorithm in offered]) == expected


def test_several_challenges_in_several_values_are_walked() -> None:
    values = [
        'Basic realm="x", Digest realm="other", nonce="o", algorithm=SHA-256',
        'Digest realm="broken',
        challenge("MD5") + ", " + challenge("SHA-256", nonce="n2"),
    ]
    answer = parse_credentials(client(realm=REALM).authorize(values, method="REGISTER", uri=URI))
    assert (answer.realm, answer.algorithm, answer.nonce) == (REALM, "SHA-256", "n2")


def test_challenge_for_another_realm_is_not_answered() -> None:
    with pytest.raises(NoUsableChallenge):
        client(realm=REALM).authorize(
            [challenge(realm="phisher.example")], method="REGISTER", uri=URI
        )


@pytest.mark.parametrize(
    "values",
    [
        [],
        ['Basic realm="x"'],
        ['Digest realm="r", nonce="n", qop="auth-int"'],
        [challenge("SHA-1")],
        ["garbage \x00"],
    ],
)
def test_nothing_answerable_raises(values: list[str]) -> None:
    with pytest.raises(NoUsableChallenge):
        client().authorize(values, method="REGISTER", uri=URI)


def test_ha1_only_client_answers_only_algorithms_it_has() -> None:
    stored = {"MD5": ha1("acme", REALM, "s3cret", "MD5")}
    values = [challenge("SHA-256"), challenge("MD5")]
    assert chosen(values, password=None, ha1s=stored) == "MD5"
    with pytest.raises(NoUsableChallenge):
        chosen([challenge("SHA-256")], password=None, ha1s=stored)


def test_nc_counts_across_requests_on_the_same_nonce() -> None:
    acme = client()
    first = parse_credentials(acme.authorize([challenge()], method="REGISTER", uri=URI))
    again = parse_credentials(acme.reauthorize(method="OPTIONS", uri=URI))
    same = parse_credentials(acme.authorize([challenge()], method="REGISTER", uri=URI))
    fresh = parse_credentials(acme.authorize([challenge(nonce="n2")], method="REGISTER", uri=URI))
    assert [first.nc, again.nc, same.nc, fresh.nc] == [1, 2, 3, 1]
    assert len({first.cnonce, again.cnonce, same.cnonce}) == 3


def test_reauthorize_without_a_challenge_gives_nothing() -> None:
    assert client().reauthorize(method="REGISTER", uri=URI) is None


def test_stale_challenge_after_credentials_is_answered_with_the_new_nonce() -> None:
    acme = client()
    acme.authorize([challenge()], method="REGISTER", uri=URI)
    answer = acme.authorize(
        [challenge(nonce="n2", stale="TRUE")], method="REGISTER", uri=URI, credentials_sent=True
    )
    assert parse_credentials(answer).nonce == "n2"


def test_plain_challenge_after_credentials_means_refused() -> None:
    acme = client()
    acme.authorize([challenge()], method="REGISTER", uri=URI)
    with pytest.raises(CredentialsRejected):
        acme.authorize([challenge(nonce="n2")], method="REGISTER", uri=URI, credentials_sent=True)


def test_challenge_without_qop_gets_an_rfc2069_answer() -> None:
    value = f'Digest realm="{REALM}", nonce="n", opaque="o"'
    answer = parse_credentials(client().authorize([value], method="INVITE", uri=URI))
    assert (answer.qop, answer.nc, answer.cnonce, answer.opaque) == (None, None, None, "o")


@pytest.mark.parametrize("kwargs", [{"password": None}, {"ha1s": {"MD5": "00"}}])
def test_exactly_one_secret_must_be_given(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        client(**kwargs)


def test_unknown_ha1_algorithm_refused() -> None:
    with pytest.raises(ValueError):
        DigestClient(username="acme", ha1s={"SHA-1": "00"})


def test_single_string_instead_of_a_list_is_a_caller_error() -> None:
    with pytest.raises(TypeError):
        client().authorize(challenge(), method="REGISTER", uri=URI)


async def test_expired_nonce_flow_recovers_without_a_password_failure() -> None:
    server = DigestServer(secret=b"shared-worker-secret-0123456789")
    acme = client()

    def lookup(username: str, realm: str, algorithm: str) -> str:
        return ha1(username, realm, "s3cret", algorithm)

    async def verify(authorization: str, now: float):
        return await server.verify(
            [authorization], method="REGISTER", uri=URI, realm=REALM, lookup=lookup, now=now
        )

    first = acme.authorize(server.challenge(REALM, now=T0), method="REGISTER", uri=URI)
    assert isinstance(await verify(first, T0 + 1), Accepted)
    late = await verify(acme.reauthorize(method="REGISTER", uri=URI), T0 + 600)
    assert late.stale
    retry = acme.authorize(
        server.challenge(REALM, now=T0 + 600, stale=late.stale),
        method="REGISTER",
        uri=URI,
        credentials_sent=True,
    )
    assert isinstance(await verify(retry, T0 + 601), Accepted)
