"""Sign-in guessing is locked out, every form carries and needs a CSRF token, and cookies are
secure when the portal is served over HTTPS."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from webui.tests.conftest import PASSWORD

REPO = Path(__file__).resolve().parents[2]
FORM_PAGES = [
    "webui:account-create",
    "webui:provider-create",
    "webui:dialplan-create",
    "webui:transfer-settings",
    "webui:policy",
]


def test_five_wrong_passwords_lock_the_username_out(client, acme_admin):
    for _ in range(5):
        client.post(reverse("webui:login"), {"username": "acme-admin", "password": "guess"})
    response = client.post(reverse("webui:login"), {"username": "acme-admin", "password": PASSWORD})
    assert response.status_code == 429
    assert "Signing in is paused" in response.content.decode()
    assert "Wait 15 minutes and try again" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_right_password_before_the_limit_still_signs_in(client, acme_admin):
    for _ in range(3):
        client.post(reverse("webui:login"), {"username": "acme-admin", "password": "guess"})
    response = client.post(reverse("webui:login"), {"username": "acme-admin", "password": PASSWORD})
    assert response.status_code == 302


@pytest.mark.parametrize("name", FORM_PAGES)
def test_every_form_carries_a_csrf_token(acme_client, name):
    html = acme_client.get(reverse(name)).content.decode()
    assert html.count('method="post"') == html.count('name="csrfmiddlewaretoken"')


def test_a_post_without_the_csrf_token_is_refused(acme_admin, acme):
    client = Client(enforce_csrf_checks=True)
    client.force_login(acme_admin)
    response = client.post(reverse("webui:account-disable", args=[acme.account.pk]))
    assert response.status_code == 403


def test_htmx_requests_send_the_csrf_token_as_a_header(acme_client):
    html = acme_client.get(reverse("webui:dashboard")).content.decode()
    assert """<body hx-headers='{"X-CSRFToken": \"""" in html


def test_cookies_are_secure_under_production_settings():
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DEBUG", "DATABASE_URL", "REDIS_URL"}
    }
    env |= {"SECURE_SSL_REDIRECT": "true", "SECRET_KEY": "x" * 50}
    code = (
        "from sipplatform import settings as s;"
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["True", "True", "True"]
