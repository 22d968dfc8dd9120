"""Customers (platform staff only) and a customer's own settings (transfer defaults)."""

from __future__ import annotations

from django.utils import timezone

from sipplatform.calls.models import CallDetailRecord
from sipplatform.customers.models import Customer
from sipplatform.providers.models import Provider
from sipplatform.providers.services import create_provider

URL = "/api/v1/customers/"
SETTINGS_URL = "/api/v1/customer/settings/"


def detail(pk: int) -> str:
    return f"{URL}{pk}/"


def test_staff_create_list_retrieve_update(staff_client, tenant_a):
    created = staff_client.post(URL, {"name": "Acme Calls", "max_calls_per_minute": 10})
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    assert created.json()["slug"] == "acme-calls"

    listed = staff_client.get(URL).json()["results"]
    put = staff_client.put(detail(pk), {"name": "Acme Calls", "transfer_default": "c"})
    patch = staff_client.patch(detail(pk), {"suspended": True})

    assert {row["name"] for row in listed} == {"Acme Calls", "Tenant A"}
    assert put.json()["effective_transfer_default"] == "c"
    assert patch.json()["suspended"] is True
    assert staff_client.get(detail(pk)).json()["max_calls_per_minute"] == 10


def test_staff_delete_and_conflict_while_records_refer_to_it(staff_client):
    empty = Customer.objects.create(name="Short Lived")
    with_history = Customer.objects.create(name="Has History")
    CallDetailRecord.objects.create(
        leg_id="leg-h",
        call_id="call-h",
        direction="in",
        created_at=timezone.now(),
        customer=with_history,
        provider=create_provider(with_history, "t", "sip:t.test"),
    )

    assert staff_client.delete(detail(empty.pk)).status_code == 204
    conflict = staff_client.delete(detail(with_history.pk))
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "conflict"
    assert Customer.objects.filter(pk=with_history.pk).exists()
    assert Provider.objects.for_customer(with_history).exists()


def test_bad_customer_input_is_a_field_error(staff_client, tenant_a):
    taken = staff_client.post(URL, {"name": "Tenant A"})
    no_letters = staff_client.post(URL, {"name": "!!!"})
    bad_default = staff_client.patch(detail(tenant_a.customer.pk), {"transfer_default": "x"})

    assert taken.status_code == 400
    assert "name" in taken.json()["fields"]
    assert no_letters.status_code == 400
    assert "name" in no_letters.json()["fields"]
    assert bad_default.json()["fields"]["transfer_default"][0]["code"] == "invalid_choice"


def test_customers_endpoint_is_for_staff_only(client_a, tenant_a):
    assert client_a.get(URL).status_code == 403
    assert client_a.post(URL, {"name": "Mine"}).status_code == 403
    assert client_a.get(detail(tenant_a.customer.pk)).status_code == 403
    assert client_a.patch(detail(tenant_a.customer.pk), {"suspended": False}).status_code == 403
    assert client_a.delete(detail(tenant_a.customer.pk)).status_code == 403


def test_customer_reads_and_changes_its_transfer_default(client_a, tenant_a):
    got = client_a.get(SETTINGS_URL)
    changed = client_a.patch(SETTINGS_URL, {"transfer_default": "p"})
    put = client_a.put(
        SETTINGS_URL, {"transfer_default": "c", "allow_cross_account_attended_transfer": True}
    )

    assert got.status_code == 200
    assert got.json()["name"] == "Tenant A"
    assert got.json()["effective_transfer_default"] == "n"
    assert changed.json()["effective_transfer_default"] == "p"
    assert put.status_code == 200
    tenant_a.customer.refresh_from_db()
    assert tenant_a.customer.transfer_default == "c"
    assert tenant_a.customer.allow_cross_account_attended_transfer is True
    account = client_a.get(f"/api/v1/sip-accounts/{tenant_a.account.pk}/").json()
    assert account["effective_transfer_policy"] == {"value": "c", "source": "customer"}


def test_customer_cannot_change_its_limits_or_suspension(client_a, tenant_a):
    response = client_a.patch(SETTINGS_URL, {"max_calls_per_minute": 100000, "suspended": True})

    assert response.status_code == 200
    tenant_a.customer.refresh_from_db()
    assert tenant_a.customer.max_calls_per_minute == 60
    assert tenant_a.customer.suspended is False


def test_bad_transfer_default_is_refused(client_a, tenant_a):
    response = client_a.patch(SETTINGS_URL, {"transfer_default": "z"})

    assert response.status_code == 400
    assert "transfer_default" in response.json()["fields"]


def test_staff_have_no_own_customer_settings(staff_client):
    response = staff_client.get(SETTINGS_URL)

    assert response.status_code == 404
    assert "/api/v1/customers/" in response.json()["message"]
