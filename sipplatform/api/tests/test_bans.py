"""``/api/v1/bans/``: the SIP workers' current bans for platform staff, read from the store
(the embedded memory store here; Redis database 12 in the ``real`` test), lifted by DELETE."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import pytest
from rest_framework.test import APIClient

from sipcore.security import Ban, BanReason, Subject
from sipplatform.security.stores import EMBEDDED_STORE
from sipplatform.security.tests.support import shared_redis_store, with_redis_store

URL = "/api/v1/bans/"
REDIS_DATABASE = 12
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


def detail(key: str) -> str:
    return f"{URL}{key}/"


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def live_bans() -> list[Ban]:
    return asyncio.run(EMBEDDED_STORE.active_bans(now=time.time()))


def ban(
    subject: Subject,
    seconds: float = 300,
    *,
    reason: BanReason = BanReason.SCANNER,
    offence: int = 1,
) -> Ban:
    now = time.time()
    made = Ban(
        subject=subject,
        since=now - 10,
        until=now + seconds,
        offence=offence,
        reason=reason,
        detail="sipvicious",
    )
    asyncio.run(EMBEDDED_STORE.save_ban(made, now=now))
    return made


@pytest.fixture(autouse=True)
def embedded_store(settings):
    """The embedded store, empty before and after each test (it lives as long as the process)."""
    settings.SIP_SECURITY_REDIS_URL = ""

    def clear() -> None:
        for stored in asyncio.run(EMBEDDED_STORE.active_bans(now=0.0)):
            asyncio.run(EMBEDDED_STORE.lift_ban(stored.subject))

    clear()
    yield
    clear()


@pytest.fixture
def published(monkeypatch) -> list[tuple[int | None, dict]]:
    """The monitor events a lift publishes, as (customer id, event)."""
    events: list[tuple[int | None, dict]] = []

    async def publish_event(customer_id: int | None, event: dict) -> None:
        events.append((customer_id, event))

    monkeypatch.setattr("sipplatform.security.services.publish_event", publish_event)
    return events


def test_staff_list_the_bans_in_force_longest_first(staff_client):
    short = ban(Subject.source("203.0.113.9"), 60, offence=2)
    long = ban(Subject.account("alice", "Example.com"), 600, reason=BanReason.AUTH_FAILURES)
    ban(Subject.source("192.0.2.1"), -1)  # already over: never listed

    response = staff_client.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [row["subject"] for row in body["results"]] == [
        "account:alice@example.com",
        "source:203.0.113.9",
    ]
    assert body["results"][0]["until"] == iso(long.until)
    assert body["results"][1] == {
        "subject": "source:203.0.113.9",
        "kind": "source",
        "value": "203.0.113.9",
        "reason": "scanner",
        "detail": "sipvicious",
        "offence": 2,
        "since": iso(short.since),
        "until": iso(short.until),
    }


def test_the_list_is_paged_like_every_object_list(staff_client):
    for host in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        ban(Subject.source(host))

    page = staff_client.get(URL, {"limit": 2}).json()

    assert page["count"] == 3
    assert len(page["results"]) == 2
    assert "offset=2" in page["next"]


def test_staff_read_one_ban_by_its_subject_key(staff_client):
    ban(Subject.source("2001:db8::1"), reason=BanReason.MANUAL)

    found = staff_client.get(detail("source:2001:db8::1"))
    missing = staff_client.get(detail("source:198.51.100.1"))

    assert found.status_code == 200
    assert (found.json()["kind"], found.json()["value"]) == ("source", "2001:db8::1")
    assert found.json()["reason"] == "manual"
    assert missing.status_code == 404
    assert missing.json() == {
        "status": 404,
        "code": "not_found",
        "message": "source:198.51.100.1 is not banned.",
        "fields": {},
    }


def test_staff_lift_a_ban_and_staff_alone_hear_of_it(staff_client, platform_staff, published):
    ban(Subject.account("alice", "example.com"))
    ban(Subject.source("203.0.113.9"))

    response = staff_client.delete(detail("account:alice@example.com"))

    assert response.status_code == 204
    assert [kept.subject.key for kept in live_bans()] == ["source:203.0.113.9"]
    [(customer_id, event)] = published
    assert customer_id is None  # security events go to the staff group only
    assert (event["type"], event["subject"], event["how"], event["by"]) == (
        "security.unbanned",
        "account:alice@example.com",
        "lifted",
        platform_staff.username,
    )


def test_lifting_what_is_not_banned_is_404_and_publishes_nothing(staff_client, published):
    ban(Subject.source("203.0.113.9"))
    assert staff_client.delete(detail("source:203.0.113.9")).status_code == 204

    again = staff_client.delete(detail("source:203.0.113.9"))

    assert again.status_code == 404
    assert again.json()["code"] == "not_found"
    assert len(published) == 1  # the first lift's event only


@pytest.mark.parametrize("key", ["planet:mars", "source", "source:", "account:a%20b@example.com"])
def test_a_malformed_key_is_400_for_every_verb_and_changes_nothing(staff_client, published, key):
    ban(Subject.source("203.0.113.9"))

    for response in (staff_client.get(detail(key)), staff_client.delete(detail(key))):
        assert response.status_code == 400
        [error] = response.json()["fields"]["subject_key"]
        assert "source:<address> or account:<user>@<realm>" in error["message"]
    assert len(live_bans()) == 1
    assert published == []


def test_customers_tokens_are_refused_as_on_every_staff_only_endpoint(client_a, published):
    ban(Subject.source("203.0.113.9"))

    responses = [
        client_a.get(URL),
        client_a.get(detail("source:203.0.113.9")),
        client_a.delete(detail("source:203.0.113.9")),
    ]

    assert [response.status_code for response in responses] == [403, 403, 403]
    assert responses[2].json()["message"] == "Only platform staff may do this."
    assert len(live_bans()) == 1
    assert published == []


def test_no_token_no_bans(client, db):
    assert client.get(URL).status_code == 401
    assert client.delete(detail("source:203.0.113.9")).status_code == 401


def test_a_store_that_is_down_answers_503_in_the_error_shape(staff_client, settings, published):
    settings.SIP_SECURITY_REDIS_URL = UNREACHABLE_REDIS

    responses = [
        staff_client.get(URL),
        staff_client.get(detail("source:203.0.113.9")),
        staff_client.delete(detail("source:203.0.113.9")),
    ]

    for response in responses:
        assert response.status_code == 503
        assert response.json() == {
            "status": 503,
            "code": "ban_store_unavailable",
            "message": "The SIP workers' ban store cannot be reached; try again shortly.",
            "fields": {},
        }
    assert published == []


def bans_redis_url() -> str:
    """``TEST_REDIS_URL`` (scripts/test-env.sh) or the local Redis, on this module's database."""
    base = urlsplit(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
    return urlunsplit(base._replace(path=f"/{REDIS_DATABASE}"))


@pytest.fixture
def shared_store(settings):
    """Redis database 12; every process of the platform would see it."""
    yield from shared_redis_store(settings, bans_redis_url())


async def in_redis(action):
    return await with_redis_store(bans_redis_url(), action)


@pytest.mark.real
def test_staff_list_and_lift_the_bans_the_workers_share_in_redis(
    staff_client, shared_store, published
):
    now = time.time()
    stored = Ban(
        subject=Subject.source("203.0.113.9"),
        since=now,
        until=now + 60,
        offence=3,
        reason=BanReason.AUTH_FAILURES,
        detail="10 failed authentications",
    )
    asyncio.run(in_redis(lambda store: store.save_ban(stored, now=now)))

    listed = staff_client.get(URL).json()["results"]
    lifted = staff_client.delete(detail("source:203.0.113.9"))

    assert [(row["subject"], row["offence"], row["detail"]) for row in listed] == [
        ("source:203.0.113.9", 3, "10 failed authentications")
    ]
    assert lifted.status_code == 204
    assert asyncio.run(in_redis(lambda store: store.active_bans(now=time.time()))) == []
    assert [event["subject"] for _, event in published] == ["source:203.0.113.9"]


def test_the_schema_documents_the_bans_and_their_503(db):
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    one = schema["paths"]["/api/v1/bans/{subject_key}/"]

    assert set(one) == {"get", "delete"}
    assert set(schema["paths"]["/api/v1/bans/"]) == {"get"}
    for operation in (schema["paths"]["/api/v1/bans/"]["get"], one["get"], one["delete"]):
        error = operation["responses"]["503"]["content"]["application/json"]["schema"]
        assert error == {"$ref": "#/components/schemas/Error"}
    assert "204" in one["delete"]["responses"]
