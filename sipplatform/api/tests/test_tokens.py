"""API tokens: stored hashed, shown once, revocable; Bearer and session authentication."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from sipplatform.api.models import ApiToken
from sipplatform.api.services import authenticate_token, create_token, revoke_token

URL = "/api/v1/sip-accounts/"


def bearer(clear: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {clear}")
    return client


def test_token_is_stored_only_as_its_hash(tenant_a):
    token, clear = create_token(tenant_a.user, "provisioning script")

    assert clear.startswith(f"sipk_{token.prefix}_")
    assert token.secret_hash == hashlib.sha256(clear.encode()).hexdigest()
    stored = ApiToken.objects.filter(pk=token.pk).values().get()
    assert clear not in str(stored)
    assert clear.split("_", 2)[2] not in str(stored)


def test_token_authenticates_as_its_user_and_records_use(tenant_a):
    token, clear = create_token(tenant_a.user, "script")

    response = bearer(clear).get(URL)

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [tenant_a.account.pk]
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_last_used_is_written_at_most_once_a_minute(tenant_a):
    token, clear = create_token(tenant_a.user, "script")
    recent = timezone.now() - timedelta(seconds=5)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=recent)

    authenticate_token(clear)

    token.refresh_from_db()
    assert token.last_used_at == recent


def test_revoked_token_is_refused_with_401(tenant_a):
    token, clear = create_token(tenant_a.user, "script")
    client = bearer(clear)
    assert client.get(URL).status_code == 200

    revoke_token(token)
    response = client.get(URL)

    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert token.is_revoked


def test_revoking_twice_keeps_the_first_time(tenant_a):
    token, _ = create_token(tenant_a.user, "script")
    revoke_token(token)
    first = token.revoked_at

    revoke_token(token)

    assert token.revoked_at == first


def test_inactive_user_token_is_refused(tenant_a):
    _, clear = create_token(tenant_a.user, "script")
    tenant_a.user.is_active = False
    tenant_a.user.save()

    assert bearer(clear).get(URL).status_code == 401
    with pytest.raises(ValidationError):
        create_token(tenant_a.user, "another")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer sipk_nosuchpx_secret",
        "Bearer not-a-token",
        "Bearer",
        "Bearer one two",
        "Bearer sipk_abcdefgh_",
    ],
)
def test_malformed_or_unknown_tokens_are_401(tenant_a, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get(URL)

    assert response.status_code == 401
    assert set(response.json()) == {"status", "code", "message", "fields"}


def test_token_with_right_prefix_and_wrong_secret_is_401(tenant_a):
    token, clear = create_token(tenant_a.user, "script")

    assert bearer(f"sipk_{token.prefix}_{'x' * 43}").get(URL).status_code == 401
    assert bearer(clear).get(URL).status_code == 200


def test_no_credentials_is_401(db):
    response = APIClient().get(URL)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_portal_session_authenticates_too(tenant_a):
    client = APIClient()
    client.force_login(tenant_a.user)

    assert client.get(URL).status_code == 200


def test_customer_user_without_a_customer_gets_403(tenant_a, django_user_model):
    nobody = django_user_model(username="loose", role="customer_admin", customer=None)
    client = APIClient()
    client.force_authenticate(nobody)

    assert client.get(URL).status_code == 403


def test_blank_name_is_refused(tenant_a):
    with pytest.raises(ValidationError):
        create_token(tenant_a.user, "   ")
    assert not ApiToken.objects.exists()


def test_command_creates_lists_and_revokes(tenant_a, capsys):
    call_command("apitoken", "create", tenant_a.user.username, "ci job")
    out = capsys.readouterr().out
    clear = out.split("token (shown only now): ")[1].strip()
    assert bearer(clear).get(URL).status_code == 200

    call_command("apitoken", "list", tenant_a.user.username)
    assert "ci job\tactive" in capsys.readouterr().out

    call_command("apitoken", "revoke", clear)
    assert "revoked" in capsys.readouterr().out
    assert bearer(clear).get(URL).status_code == 401


def test_command_errors(tenant_a):
    with pytest.raises(CommandError, match="no user"):
        call_command("apitoken", "create", "nobody", "x")
    with pytest.raises(CommandError, match="no token"):
        call_command("apitoken", "revoke", "zzzzzzzz")
    with pytest.raises(CommandError, match="name"):
        call_command("apitoken", "create", tenant_a.user.username, "")


def test_token_with_characters_outside_the_prefix_alphabet_is_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer sipk_ab\x00DEF!g_secret")

    assert client.get(URL).status_code == 401
