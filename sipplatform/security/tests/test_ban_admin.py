"""The admin list of current SIP bans and its "lift ban" action, on the embedded store."""

from __future__ import annotations

import asyncio
import time

import pytest
from django.urls import reverse

from sipcore.security import Ban, BanReason, Subject
from sipplatform.customers.models import Customer, User
from sipplatform.security.stores import EMBEDDED_STORE

pytestmark = pytest.mark.django_db

LIST = "admin:security_ban_changelist"
LIFT = "admin:security_ban_lift"


def ban(subject: Subject, seconds: float = 300, reason: BanReason = BanReason.SCANNER) -> Ban:
    now = time.time()
    made = Ban(
        subject=subject,
        since=now - 10,
        until=now + seconds,
        offence=2,
        reason=reason,
        detail="sipvicious",
    )
    asyncio.run(EMBEDDED_STORE.save_ban(made, now=now))
    return made


def test_staff_see_the_current_bans_from_the_store(client, viewer):
    ban(Subject.source("203.0.113.9"))
    ban(Subject.account("alice", "example.com"), reason=BanReason.AUTH_FAILURES)
    ban(Subject.source("192.0.2.1"), seconds=-1)  # already over: never listed
    client.force_login(viewer)
    response = client.get(reverse(LIST))
    assert response.status_code == 200
    page = response.content.decode()
    assert "203.0.113.9" in page and "alice@example.com" in page and "auth-failures" in page
    assert "192.0.2.1" not in page
    assert "Lift ban" not in page  # viewing is not lifting
    assert "kept in this process&#x27;s memory" in page or "kept in this process's memory" in page


def test_staff_with_the_permission_lift_a_ban(client, lifter, monkeypatch):
    published = []

    async def publish_event(customer_id, event):
        published.append((customer_id, event))

    monkeypatch.setattr("sipplatform.security.services.publish_event", publish_event)
    ban(Subject.source("203.0.113.9"))
    client.force_login(lifter)
    assert "Lift ban" in client.get(reverse(LIST)).content.decode()
    response = client.post(reverse(LIFT), {"subject": "source:203.0.113.9"}, follow=True)
    assert response.status_code == 200
    assert "Lifted the ban of source:203.0.113.9" in response.content.decode()
    assert asyncio.run(EMBEDDED_STORE.active_bans(now=time.time())) == []
    [(customer_id, event)] = published
    assert customer_id is None
    assert (event["type"], event["subject"], event["how"], event["by"]) == (
        "security.unbanned",
        "source:203.0.113.9",
        "lifted",
        "lifter",
    )


def test_lifting_what_is_not_banned_or_names_nothing_is_a_message_not_an_error(client, lifter):
    client.force_login(lifter)
    gone = client.post(reverse(LIFT), {"subject": "source:198.51.100.1"}, follow=True)
    assert "was not banned" in gone.content.decode()
    nonsense = client.post(reverse(LIFT), {"subject": "planet:<script>"}, follow=True)
    assert nonsense.status_code == 200
    assert "names no address or account" in nonsense.content.decode()
    assert "<script>" not in nonsense.content.decode()


def test_staff_without_the_permission_cannot_lift(client, viewer):
    ban(Subject.source("203.0.113.9"))
    client.force_login(viewer)
    response = client.post(reverse(LIFT), {"subject": "source:203.0.113.9"})
    assert response.status_code == 403
    assert len(asyncio.run(EMBEDDED_STORE.active_bans(now=time.time()))) == 1


def test_lifting_needs_a_post(client, lifter):
    client.force_login(lifter)
    assert client.get(reverse(LIFT), {"subject": "source:203.0.113.9"}).status_code == 405


def test_customers_portal_users_see_nothing(client, db):
    customer = Customer.objects.create(name="Acme")
    user = User.objects.create_user("customer-user", password="pw", customer=customer)
    client.force_login(user)
    response = client.get(reverse(LIST))
    assert response.status_code == 302  # to the admin's sign-in


def test_a_store_that_cannot_be_read_is_reported_on_the_page(client, viewer, settings):
    settings.SIP_SECURITY_REDIS_URL = "redis://127.0.0.1:1/0"
    client.force_login(viewer)
    response = client.get(reverse(LIST))
    assert response.status_code == 200
    assert "The ban store cannot be read" in response.content.decode()


def test_the_superusers_admin_index_links_the_bans(admin_client):
    response = admin_client.get(reverse("admin:index"))
    assert reverse(LIST) in response.content.decode()
