"""The admin list on Redis (database 13, flushed around the test): it shows the bans the
workers stored and its lift removes them from Redis, where every worker reads them."""

from __future__ import annotations

import asyncio
import time

import pytest
from django.urls import reverse

from sipcore.security import Ban, BanReason, Subject
from sipcore.tests.test_security_redis import redis_url
from sipplatform.security.tests.support import shared_redis_store, with_redis_store

pytestmark = [pytest.mark.real, pytest.mark.django_db]


@pytest.fixture
def shared_store(settings):
    yield from shared_redis_store(settings, redis_url())


async def stored(action):
    return await with_redis_store(redis_url(), action)


def test_staff_list_and_lift_the_bans_held_in_redis(client, lifter, shared_store, monkeypatch):
    async def publish_event(customer_id, event):
        return None

    monkeypatch.setattr("sipplatform.security.services.publish_event", publish_event)
    now = time.time()
    ban = Ban(
        subject=Subject.source("203.0.113.9"),
        since=now,
        until=now + 60,
        offence=1,
        reason=BanReason.AUTH_FAILURES,
        detail="10 failed authentications",
    )
    asyncio.run(stored(lambda store: store.save_ban(ban, now=now)))
    client.force_login(lifter)
    page = client.get(reverse("admin:security_ban_changelist")).content.decode()
    assert "203.0.113.9" in page and "10 failed authentications" in page
    assert "kept in this process" not in page
    client.post(reverse("admin:security_ban_lift"), {"subject": ban.subject.key})
    assert asyncio.run(stored(lambda store: store.active_bans(now=time.time()))) == []
