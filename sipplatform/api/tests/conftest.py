"""API test fixtures: token-authenticated clients for the two tenants and for platform staff.

The tenants come from ``sipplatform/conftest.py`` (``tenant_a``, ``tenant_b``, ``platform_staff``).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from sipplatform.api.services import create_token
from sipplatform.customers.models import User


@pytest.fixture(autouse=True)
def api_only_urls(settings) -> None:
    settings.ROOT_URLCONF = "sipplatform.api.tests.urls"


@pytest.fixture(autouse=True)
def fresh_throttle_counts() -> None:
    """Throttle counters live in the cache: start every test from zero."""
    cache.clear()


@pytest.fixture
def client_for(db) -> Callable[[User], APIClient]:
    """An API client sending a fresh Bearer token of ``user``."""

    def make(user: User) -> APIClient:
        _, clear = create_token(user, "test script")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {clear}")
        return client

    return make


@pytest.fixture
def client_a(tenant_a, client_for) -> APIClient:
    return client_for(tenant_a.user)


@pytest.fixture
def client_b(tenant_b, client_for) -> APIClient:
    return client_for(tenant_b.user)


@pytest.fixture
def staff_client(platform_staff, client_for) -> APIClient:
    return client_for(platform_staff)
