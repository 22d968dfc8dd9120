"""One JSON error shape for every failure, with field-level messages."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from sipplatform.api.views.dialplans import DialplanViewSet

SHAPE = {"status", "code", "message", "fields"}


def test_malformed_json_is_a_400_parse_error(client_a):
    response = client_a.generic(
        "POST", "/api/v1/dialplans/", "{not json", content_type="application/json"
    )

    assert response.status_code == 400
    assert set(response.json()) == SHAPE
    assert response.json()["code"] == "parse_error"
    assert response.json()["fields"] == {}


def test_a_list_instead_of_an_object_is_a_non_field_error(client_a):
    response = client_a.post("/api/v1/dialplans/", [1, 2], format="json")

    assert response.status_code == 400
    assert response.json()["fields"]["non_field_errors"][0]["code"] == "invalid"


def test_missing_required_fields_are_named(client_a):
    body = client_a.post("/api/v1/providers/", {}).json()

    assert body["status"] == 400
    assert body["code"] == "invalid"
    assert {"name", "server_uri"} <= set(body["fields"])
    assert body["fields"]["name"] == [{"message": "This field is required.", "code": "required"}]


def test_list_item_errors_name_the_item(client_a, tenant_a):
    response = client_a.patch(
        f"/api/v1/sip-accounts/{tenant_a.account.pk}/", {"ip_allow_list": ["ok", 5, None]}
    )

    assert response.status_code == 400
    assert "ip_allow_list.2" in response.json()["fields"]


def test_unsupported_media_type_and_method(client_a, tenant_a):
    form = client_a.post("/api/v1/dialplans/", "name=x", content_type="text/plain")
    method = client_a.put("/api/v1/dialplans/", {})

    assert (form.status_code, form.json()["code"]) == (415, "unsupported_media_type")
    assert (method.status_code, method.json()["code"]) == (405, "method_not_allowed")


@pytest.mark.parametrize("path", ["/api/v1/dialplans/999999/", "/api/v1/dialplans/abc/"])
def test_unknown_ids_are_404_in_the_same_shape(client_a, path):
    response = client_a.get(path)

    assert response.status_code == 404
    assert set(response.json()) == SHAPE


def test_nul_characters_are_refused_before_reaching_the_database(client_a, tenant_a):
    body = client_a.post("/api/v1/sip-accounts/", {"username": "desk-1", "domain": "a\x00b"})
    query = client_a.get("/api/v1/sip-accounts/", {"domain": "a\x00b"})

    assert body.status_code == 400
    assert body.json()["fields"]["domain"][0]["code"] == "null_characters_not_allowed"
    assert query.status_code == 400


def test_an_unexpected_failure_is_a_logged_500_in_the_same_shape(client_a, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(DialplanViewSet, "list", broken)

    response = client_a.get("/api/v1/dialplans/")

    assert response.status_code == 500
    assert response.json() == {
        "status": 500,
        "code": "server_error",
        "message": "Internal server error.",
        "fields": {},
    }
    assert "boom" in caplog.text


def test_staff_cannot_move_an_object_to_another_customer(staff_client, tenant_a, tenant_b):
    response = staff_client.patch(
        f"/api/v1/dialplans/{tenant_a.dialplan.pk}/", {"customer": tenant_b.customer.pk}
    )

    assert response.status_code == 400
    assert "customer" in response.json()["fields"]


def test_a_session_needs_the_csrf_token_to_write(tenant_a):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(tenant_a.user)

    response = client.post("/api/v1/dialplans/", {"name": "x", "script": "x = 1\n"})

    assert response.status_code == 403
    assert "CSRF" in response.json()["message"]
