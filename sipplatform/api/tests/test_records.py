"""Read-only records: registrations, call detail records, transfer audit records, active calls."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from sipplatform.calls.models import CallDetailRecord, TransferAuditRecord
from sipplatform.directory.models import Binding

READ_ONLY_URLS = ["registrations", "calls", "active-calls", "transfers"]


def make_calls(tenant, count: int, **fields) -> list[CallDetailRecord]:
    start = timezone.now() - timedelta(days=1)
    return [
        CallDetailRecord.objects.create(
            leg_id=f"leg-{tenant.customer.slug}-{index}",
            call_id=f"c-{index}",
            created_at=start + timedelta(minutes=index),
            customer=tenant.customer,
            **({"direction": "in"} | fields),
        )
        for index in range(count)
    ]


@pytest.mark.parametrize("name", READ_ONLY_URLS)
def test_records_are_read_only(client_a, tenant_a, name):
    url = f"/api/v1/{name}/"

    assert client_a.post(url, {}).status_code == 405
    assert client_a.put(f"{url}1/", {}).status_code == 405
    assert client_a.patch(f"{url}1/", {}).status_code == 405
    assert client_a.delete(f"{url}1/").status_code == 405


def test_registrations_list_current_bindings_only(client_a, tenant_a, tenant_b):
    Binding.objects.create(
        account=tenant_a.account,
        contact_uri="sip:old@192.0.2.11",
        expires_at=timezone.now() - timedelta(seconds=1),
        received_host="192.0.2.11",
        received_port=5060,
        transport="udp",
        call_id="old",
        cseq=1,
    )

    rows = client_a.get("/api/v1/registrations/").json()["results"]
    one = client_a.get(f"/api/v1/registrations/{tenant_a.binding.pk}/").json()
    filtered = client_a.get("/api/v1/registrations/", {"account": tenant_b.account.pk}).json()

    assert [row["id"] for row in rows] == [tenant_a.binding.pk]
    assert one["account_aor"] == tenant_a.account.aor
    assert filtered["results"] == []
    assert client_a.get(f"/api/v1/registrations/{tenant_b.binding.pk}/").status_code == 404


def test_calls_are_cursor_paged_newest_first(client_a, tenant_a):
    calls = make_calls(tenant_a, 5)

    first = client_a.get("/api/v1/calls/", {"page_size": 2, "until": timezone.now()}).json()
    second = client_a.get(first["next"]).json()

    assert [row["call_id"] for row in first["results"]] == ["call-tenant-a", "c-4"]
    assert [row["call_id"] for row in second["results"]] == ["c-3", "c-2"]
    assert "offset" not in first["next"] and "cursor=" in first["next"]
    assert len(calls) == 5


def test_call_filters(client_a, tenant_a):
    now = timezone.now()
    answered = make_calls(tenant_a, 1, direction="out", from_header="<sip:4420@x>")[0]
    answered.answered_at = answered.hungup_at = now
    answered.account = tenant_a.account
    answered.save()
    CallDetailRecord.objects.create(
        leg_id="leg-missed",
        call_id="missed",
        direction="in",
        created_at=now - timedelta(days=3),
        hungup_at=now,
        customer=tenant_a.customer,
        destination="0800123",
    )

    def ids(**query) -> list[str]:
        return [row["call_id"] for row in client_a.get("/api/v1/calls/", query).json()["results"]]

    assert ids(direction="in") == ["missed"]
    assert ids(outcome="answered") == ["c-0"]
    assert ids(outcome="unanswered") == ["missed"]
    assert ids(outcome="in_progress") == ["call-tenant-a"]
    assert ids(number="4420") == ["c-0"]
    assert ids(number="0800") == ["missed"]
    assert ids(account=tenant_a.account.pk) == ["call-tenant-a", "c-0"]
    assert ids(since=(now - timedelta(days=2)).isoformat()) == ["call-tenant-a", "c-0"]
    one = client_a.get(f"/api/v1/calls/{answered.pk}/").json()
    assert (one["direction"], one["account"]) == ("out", tenant_a.account.pk)
    assert ids(until=(now - timedelta(days=2)).isoformat()) == ["missed"]


def test_bad_filter_value_is_a_field_error(client_a, tenant_a):
    response = client_a.get("/api/v1/calls/", {"direction": "sideways", "since": "yesterday"})

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"direction", "since"}


def test_active_calls_are_records_without_hangup(client_a, tenant_a, tenant_b):
    ended = make_calls(tenant_a, 1, hungup_at=timezone.now())[0]

    rows = client_a.get("/api/v1/active-calls/").json()["results"]

    assert [row["id"] for row in rows] == [tenant_a.call.pk]
    assert client_a.get(f"/api/v1/active-calls/{tenant_a.call.pk}/").json()["hungup_at"] is None
    assert client_a.get(f"/api/v1/active-calls/{ended.pk}/").status_code == 404
    assert client_a.get(f"/api/v1/active-calls/{tenant_b.call.pk}/").status_code == 404


def test_transfers_filtered_and_paged(client_a, tenant_a, tenant_b):
    TransferAuditRecord.objects.create(
        transfer_id="x-done",
        requested_at=timezone.now(),
        customer=tenant_a.customer,
        call_id="c9",
        refer_to="<sip:2000@x>",
        target="sip:2000@x",
        kind="attended",
        policy="c",
        policy_source="account",
        decision="processed",
        outcome="completed",
        notify_statuses=[100, 200],
    )

    def ids(**query) -> list[str]:
        rows = client_a.get("/api/v1/transfers/", query).json()["results"]
        return [row["transfer_id"] for row in rows]

    assert ids() == ["x-done", "xfer-tenant-a"]
    assert ids(outcome="completed") == ["x-done"]
    assert ids(decision="rejected") == ["xfer-tenant-a"]
    assert ids(number="2000") == ["x-done"]
    assert ids(account=tenant_a.account.pk) == ["xfer-tenant-a"]
    assert ids(kind="blind", page_size=1) == ["xfer-tenant-a"]
    one = client_a.get(f"/api/v1/transfers/{tenant_a.transfer.pk}/").json()
    assert one["refer_to"] == "<sip:bob@x>"


@pytest.mark.parametrize("name", ["calls", "transfers"])
def test_another_customers_records_are_invisible(client_a, tenant_a, tenant_b, name):
    other = tenant_b.call if name == "calls" else tenant_b.transfer

    rows = client_a.get(f"/api/v1/{name}/").json()["results"]

    assert other.pk not in {row["id"] for row in rows}
    assert client_a.get(f"/api/v1/{name}/{other.pk}/").status_code == 404


def test_staff_see_every_customers_calls(staff_client, tenant_a, tenant_b):
    rows = staff_client.get("/api/v1/calls/").json()["results"]

    assert {row["id"] for row in rows} == {tenant_a.call.pk, tenant_b.call.pk}
