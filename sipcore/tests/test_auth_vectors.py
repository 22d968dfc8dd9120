"""The worked examples of RFC 2069 §2.4, RFC 2617 §3.5 and RFC 7616 §3.9, byte for byte."""

import pytest

from sipcore.auth import DigestClient, ha1, parse_challenges, parse_credentials, request_digest

RFC2617_CHALLENGE = (
    'Digest realm="testrealm@host.com", qop="auth,auth-int", '
    'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
)
RFC2617_AUTHORIZATION = (
    'Digest username="Mufasa", realm="testrealm@host.com", '
    'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, '
    'nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", '
    'opaque="5ccc069c403ebaf9f0171e9517f40e41"'
)
RFC7616_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC7616_OPAQUE = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
RFC7616_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
RFC7616_CHALLENGES = [
    f'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm={algorithm}, '
    f'nonce="{RFC7616_NONCE}", opaque="{RFC7616_OPAQUE}"'
    for algorithm in ("SHA-256", "MD5")
]
RFC7616_RESPONSES = {
    "SHA-256": "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
    "MD5": "8ca523f5e9506fed4657c9700eebdbec",
}


def test_rfc2617_response_computation() -> None:
    secret = ha1("Mufasa", "testrealm@host.com", "Circle Of Life")
    response = request_digest(
        algorithm="MD5",
        ha1=secret,
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        method="GET",
        uri="/dir/index.html",
        qop="auth",
        nc=1,
        cnonce="0a4f113b",
    )
    assert response == "6629fae49393a05397450978507c4ef1"


def test_rfc2617_client_answer_is_byte_exact() -> None:
    client = DigestClient(
        username="Mufasa", password="Circle Of Life", cnonce_factory=lambda: "0a4f113b"
    )
    answer = client.authorize([RFC2617_CHALLENGE], method="GET", uri="/dir/index.html")
    assert answer == RFC2617_AUTHORIZATION.replace(
        'uri="/dir/index.html", qop=auth', 'uri="/dir/index.html", algorithm=MD5, qop=auth'
    )


def test_rfc2617_authorization_parses_to_its_fields() -> None:
    credentials = parse_credentials(RFC2617_AUTHORIZATION)
    assert credentials.username == "Mufasa"
    assert credentials.qop == "auth"
    assert credentials.nc == 1
    assert credentials.cnonce == "0a4f113b"
    assert credentials.algorithm is None
    assert str(credentials) == RFC2617_AUTHORIZATION


@pytest.mark.parametrize("algorithm", ["SHA-256", "MD5"])
def test_rfc7616_response_computation(algorithm: str) -> None:
    secret = ha1("Mufasa", "http-auth@example.org", "Circle of Life", algorithm)
    response = request_digest(
        algorithm=algorithm,
        ha1=secret,
        nonce=RFC7616_NONCE,
        method="GET",
        uri="/dir/index.html",
        qop="auth",
        nc=1,
        cnonce=RFC7616_CNONCE,
    )
    assert response == RFC7616_RESPONSES[algorithm]


def test_rfc7616_client_picks_sha256_and_matches_the_example() -> None:
    client = DigestClient(
        username="Mufasa", password="Circle of Life", cnonce_factory=lambda: RFC7616_CNONCE
    )
    answer = parse_credentials(
        client.authorize(RFC7616_CHALLENGES[::-1], method="GET", uri="/dir/index.html")
    )
    assert answer.algorithm == "SHA-256"
    assert answer.response == RFC7616_RESPONSES["SHA-256"]
    assert answer.opaque == RFC7616_OPAQUE


def test_rfc7616_client_with_only_an_md5_ha1_answers_md5() -> None:
    stored = ha1("Mufasa", "http-auth@example.org", "Circle of Life", "MD5")
    client = DigestClient(
        username="Mufasa", ha1s={"MD5": stored}, cnonce_factory=lambda: RFC7616_CNONCE
    )
    answer = parse_credentials(
        client.authorize(RFC7616_CHALLENGES, method="GET", uri="/dir/index.html")
    )
    assert answer.algorithm == "MD5"
    assert answer.response == RFC7616_RESPONSES["MD5"]


def test_rfc7616_challenges_parse() -> None:
    (challenge,) = parse_challenges(RFC7616_CHALLENGES[0])
    assert challenge.realm == "http-auth@example.org"
    assert challenge.qop == ("auth", "auth-int")
    assert challenge.algorithm == "SHA-256"
    assert challenge.nonce == RFC7616_NONCE
    assert challenge.opaque == RFC7616_OPAQUE


def test_rfc7616_sha512_256_response_per_erratum() -> None:
    """§3.9.2 prints ae66e67d...; the erratum's corrected value is what H(A1) really gives."""
    secret = ha1("Jäsøn Doe", "api@example.org", "Secret, or not?", "SHA-512-256")
    response = request_digest(
        algorithm="SHA-512-256",
        ha1=secret,
        nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK",
        method="GET",
        uri="/doe.json",
        qop="auth",
        nc=1,
        cnonce="NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v",
    )
    assert response == "3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5"


def test_rfc2069_example_response_has_no_qop_terms() -> None:
    secret = ha1("Mufasa", "testrealm@host.com", "CircleOfLife")
    response = request_digest(
        algorithm="MD5",
        ha1=secret,
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        method="GET",
        uri="/dir/index.html",
    )
    assert response == "1949323746fe6a43ef61f9606e7febea"
