"""The project's URLconf mounts the API, its schema and its docs under /api/."""

from __future__ import annotations

from django.urls import resolve


def test_project_urls_mount_the_api(settings):
    settings.ROOT_URLCONF = "sipplatform.urls"

    assert resolve("/api/v1/sip-accounts/").url_name == "sipaccount-list"
    assert resolve("/api/v1/customer/settings/").url_name == "customer-settings"
    assert resolve("/api/schema/").url_name == "schema"
    assert resolve("/api/docs/").url_name == "docs"
