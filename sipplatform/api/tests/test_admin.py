"""API tokens in the Django admin: listed, revocable, never added there."""

from __future__ import annotations

import pytest
from django.test import Client

from sipplatform.api.models import ApiToken
from sipplatform.api.services import create_token


@pytest.fixture
def admin_client_for_superuser(django_user_model, fast_hashers) -> Client:
    superuser = django_user_model.objects.create_superuser("root", password="pw")
    client = Client()
    client.force_login(superuser)
    return client


def test_changelist_and_revoke_action(admin_client_for_superuser, settings, tenant_a):
    settings.ROOT_URLCONF = "sipplatform.urls"
    token, _ = create_token(tenant_a.user, "nightly export")

    listing = admin_client_for_superuser.get("/admin/api/apitoken/")
    revoked = admin_client_for_superuser.post(
        "/admin/api/apitoken/", {"action": "revoke", "_selected_action": [token.pk]}
    )

    assert listing.status_code == 200
    assert token.prefix in listing.content.decode()
    assert revoked.status_code == 302
    assert ApiToken.objects.get(pk=token.pk).is_revoked


def test_tokens_are_not_added_in_the_admin(admin_client_for_superuser, settings):
    settings.ROOT_URLCONF = "sipplatform.urls"

    assert admin_client_for_superuser.get("/admin/api/apitoken/add/").status_code == 403
