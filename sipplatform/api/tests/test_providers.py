"""Providers over the API: write-only password, nested registration state, tenant isolation."""

from __future__ import annotations

from django.utils import timezone

from sipplatform.providers.models import Provider
from sipplatform.providers.services import update_registration

URL = "/api/v1/providers/"


def detail(pk: int) -> str:
    return f"{URL}{pk}/"


def test_create_keeps_the_password_encrypted_and_never_returns_it(client_a, tenant_a):
    response = client_a.post(
        URL,
        {
            "name": "carrier",
            "server_uri": "sip:carrier.test",
            "username": "acct1",
            "password": "trunk-pass-1",
            "register": True,
        },
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert "password" not in body
    assert body["has_password"] is True
    assert body["registration"]["registered"] is False
    provider = Provider.objects.get(pk=body["id"])
    assert provider.customer == tenant_a.customer
    assert provider.get_password() == "trunk-pass-1"
    assert "trunk-pass-1" not in provider.password_encrypted


def test_list_and_retrieve_show_registration_state(client_a, tenant_a, tenant_b):
    update_registration(
        tenant_a.provider.pk, registered=True, last_status=200, expires_at=timezone.now()
    )

    listed = client_a.get(URL).json()["results"]
    got = client_a.get(detail(tenant_a.provider.pk)).json()

    assert [row["id"] for row in listed] == [tenant_a.provider.pk]
    assert got["registration"]["registered"] is True
    assert got["registration"]["last_status"] == 200
    assert "password" not in got


def test_update_password_keep_it_or_clear_it(client_a, tenant_a):
    url = detail(tenant_a.provider.pk)

    kept = client_a.patch(url, {"username": "new-user"})
    tenant_a.provider.refresh_from_db()
    assert kept.status_code == 200
    assert tenant_a.provider.get_password() == "trunk-secret"

    changed = client_a.put(
        url, {"name": "trunk", "server_uri": "sip:trunk2.test", "password": "other-secret"}
    )
    tenant_a.provider.refresh_from_db()
    assert changed.status_code == 200, changed.json()
    assert tenant_a.provider.get_password() == "other-secret"
    assert tenant_a.provider.server_uri == "sip:trunk2.test"

    cleared = client_a.patch(url, {"password": ""})
    assert cleared.json()["has_password"] is False


def test_protected_custom_header_is_a_field_error_and_saves_nothing(client_a, tenant_a):
    response = client_a.patch(
        detail(tenant_a.provider.pk), {"register": True, "custom_headers": "Via: evil"}
    )

    assert response.status_code == 400
    assert response.json()["fields"]["custom_headers"][0]["code"] == "protected_header"
    tenant_a.provider.refresh_from_db()
    assert tenant_a.provider.register is False


def test_duplicate_name_and_bad_uri_are_refused(client_a, tenant_a):
    duplicate = client_a.post(URL, {"name": "trunk", "server_uri": "sip:x.test"})
    bad_uri = client_a.post(URL, {"name": "other", "server_uri": "http://x.test"})

    assert duplicate.status_code == 400
    assert bad_uri.status_code == 400
    assert bad_uri.json()["fields"]["server_uri"][0]["code"] == "invalid_uri"
    assert Provider.objects.for_customer(tenant_a.customer).count() == 1


def test_delete(client_a, tenant_a):
    assert client_a.delete(detail(tenant_a.provider.pk)).status_code == 204
    assert not Provider.objects.filter(pk=tenant_a.provider.pk).exists()


def test_another_customers_provider_is_404_for_every_verb(client_a, tenant_b):
    url = detail(tenant_b.provider.pk)

    codes = [
        client_a.get(url).status_code,
        client_a.put(url, {"name": "x", "server_uri": "sip:x.test"}).status_code,
        client_a.patch(url, {"password": "stolen"}).status_code,
        client_a.delete(url).status_code,
    ]

    assert codes == [404] * 4
    tenant_b.provider.refresh_from_db()
    assert tenant_b.provider.get_password() == "trunk-secret"
