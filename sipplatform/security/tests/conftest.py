"""Fixtures: the app installed (also while settings.py does not list it yet), staff users,
and the embedded memory store emptied around each test."""

from __future__ import annotations

import asyncio
import importlib

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType

from sipplatform.customers.models import User
from sipplatform.security.models import Ban
from sipplatform.security.stores import EMBEDDED_STORE

APP = "sipplatform.security"


@pytest.fixture(autouse=True)
def security_app(settings):
    if APP not in settings.INSTALLED_APPS:
        settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, APP]
    importlib.import_module(f"{APP}.admin")
    settings.ROOT_URLCONF = f"{APP}.tests.urls"
    settings.SIP_SECURITY_REDIS_URL = ""


@pytest.fixture(autouse=True)
def empty_embedded_store():
    def clear() -> None:
        for ban in asyncio.run(EMBEDDED_STORE.active_bans(now=0.0)):
            asyncio.run(EMBEDDED_STORE.lift_ban(ban.subject))

    clear()
    yield EMBEDDED_STORE
    clear()


def staff_user(username: str, *permissions: str) -> User:
    user = User.objects.create_user(
        username, password="pw", is_staff=True, role=User.Role.STAFF, customer=None
    )
    ContentType.objects.clear_cache()  # rows made by earlier tests were rolled back
    content_type = ContentType.objects.get_for_model(Ban)
    for codename in permissions:
        permission, _ = Permission.objects.get_or_create(
            codename=codename, content_type=content_type, defaults={"name": codename}
        )
        user.user_permissions.add(permission)
    return user


@pytest.fixture
def viewer(db) -> User:
    return staff_user("viewer", "view_ban")


@pytest.fixture
def lifter(db) -> User:
    return staff_user("lifter", "view_ban", "lift_ban")
