"""Read-only SIP domains, and the caller's own API tokens (list, retrieve, revoke)."""

from __future__ import annotations

from sipplatform.api.models import ApiToken
from sipplatform.api.services import create_token
from sipplatform.directory.services import default_domain


def test_domains_are_the_platform_ones_and_the_callers_own(client_a, tenant_a, tenant_b):
    shared = default_domain()

    rows = client_a.get("/api/v1/sip-domains/").json()["results"]

    assert {row["name"]: row["platform_wide"] for row in rows} == {
        shared.name: True,
        tenant_a.domain.name: False,
    }
    assert client_a.get(f"/api/v1/sip-domains/{tenant_b.domain.pk}/").status_code == 404
    assert client_a.post("/api/v1/sip-domains/", {"name": "x.test"}).status_code == 405


def test_tokens_list_shows_own_tokens_without_secrets(client_a, tenant_a, tenant_b):
    create_token(tenant_b.user, "b's script")
    mine, clear = create_token(tenant_a.user, "backup job")

    rows = client_a.get("/api/v1/tokens/").json()["results"]

    assert {row["name"] for row in rows} == {"test script", "backup job"}
    assert clear not in str(rows)
    one = client_a.get(f"/api/v1/tokens/{mine.pk}/").json()
    assert one["prefix"] == mine.prefix
    assert one["revoked"] is False
    assert "secret_hash" not in one


def test_delete_revokes_and_keeps_the_record(client_a, tenant_a):
    token, _ = create_token(tenant_a.user, "old job")

    response = client_a.delete(f"/api/v1/tokens/{token.pk}/")

    assert response.status_code == 204
    token.refresh_from_db()
    assert token.is_revoked
    assert client_a.get(f"/api/v1/tokens/{token.pk}/").json()["revoked"] is True


def test_a_token_can_revoke_itself(tenant_a, client_for):
    client = client_for(tenant_a.user)
    own = ApiToken.objects.get(name="test script")

    assert client.delete(f"/api/v1/tokens/{own.pk}/").status_code == 204
    assert client.get("/api/v1/tokens/").status_code == 401


def test_tokens_cannot_be_created_or_changed_over_the_api(client_a, tenant_a):
    assert client_a.post("/api/v1/tokens/", {"name": "x"}).status_code == 405
    own = ApiToken.objects.get(user=tenant_a.user)
    assert client_a.patch(f"/api/v1/tokens/{own.pk}/", {"name": "y"}).status_code == 405


def test_another_users_token_is_404(client_a, tenant_b):
    token, _ = create_token(tenant_b.user, "b's job")

    assert client_a.get(f"/api/v1/tokens/{token.pk}/").status_code == 404
    assert client_a.delete(f"/api/v1/tokens/{token.pk}/").status_code == 404
    token.refresh_from_db()
    assert not token.is_revoked


def test_staff_see_and_revoke_everyones_tokens(staff_client, tenant_a):
    token, _ = create_token(tenant_a.user, "a's job")

    names = {row["name"] for row in staff_client.get("/api/v1/tokens/").json()["results"]}

    assert "a's job" in names
    assert staff_client.delete(f"/api/v1/tokens/{token.pk}/").status_code == 204
