"""Destination policies: the customer's own row, the platform row read-only to customers."""

from __future__ import annotations

from sipplatform.dialplans.models import DestinationPolicy

URL = "/api/v1/destination-policies/"


def detail(pk: int) -> str:
    return f"{URL}{pk}/"


def test_customer_sees_platform_policy_and_its_own_only(client_a, tenant_a, tenant_b):
    platform = DestinationPolicy.objects.platform()

    ids = {row["id"] for row in client_a.get(URL).json()["results"]}

    assert ids == {platform.pk, tenant_a.policy.pk}


def test_customer_updates_its_own_policy(client_a, tenant_a):
    url = detail(tenant_a.policy.pk)

    put = client_a.put(url, {"denied_prefixes": ["4490", "1900", "4490"]})
    patch = client_a.patch(url, {"allowed_country_codes": ["44", "1"]})

    assert put.status_code == 200, put.json()
    assert put.json()["denied_prefixes"] == ["1900", "4490"]
    assert patch.json()["allowed_country_codes"] == ["1", "44"]
    assert client_a.get(url).json() | {"updated_at": None} == {
        "id": tenant_a.policy.pk,
        "customer": tenant_a.customer.pk,
        "denied_prefixes": ["1900", "4490"],
        "allowed_country_codes": ["1", "44"],
        "updated_at": None,
    }


def test_bad_prefix_is_a_field_error_and_saves_nothing(client_a, tenant_a):
    response = client_a.patch(
        detail(tenant_a.policy.pk), {"denied_prefixes": ["+44"], "allowed_country_codes": ["1"]}
    )

    assert response.status_code == 400
    assert response.json()["fields"]["denied_prefixes"][0]["code"] == "invalid_list"
    tenant_a.policy.refresh_from_db()
    assert tenant_a.policy.allowed_country_codes == []


def test_create_own_and_only_one(client_b, tenant_b, tenant_a):
    tenant_b.policy.delete()

    created = client_b.post(URL, {"denied_prefixes": ["1555"]})
    second = client_b.post(URL, {"denied_prefixes": ["1556"]})

    assert created.status_code == 201, created.json()
    assert created.json()["customer"] == tenant_b.customer.pk
    assert second.status_code == 400
    assert DestinationPolicy.objects.for_customer(tenant_b.customer).count() == 1


def test_customer_cannot_change_the_platform_policy(client_a, tenant_a):
    platform = DestinationPolicy.objects.platform()
    before = list(platform.denied_prefixes)

    patch = client_a.patch(detail(platform.pk), {"denied_prefixes": []})
    delete = client_a.delete(detail(platform.pk))

    assert patch.status_code == 403
    assert delete.status_code == 403
    platform.refresh_from_db()
    assert platform.denied_prefixes == before


def test_staff_change_the_platform_policy(staff_client):
    platform = DestinationPolicy.objects.platform()

    response = staff_client.patch(detail(platform.pk), {"denied_prefixes": ["1900"]})

    assert response.status_code == 200
    assert response.json()["customer"] is None
    platform.refresh_from_db()
    assert platform.denied_prefixes == ["1900"]


def test_delete_own(client_a, tenant_a):
    assert client_a.delete(detail(tenant_a.policy.pk)).status_code == 204
    assert not DestinationPolicy.objects.filter(pk=tenant_a.policy.pk).exists()


def test_another_customers_policy_is_404_for_every_verb(client_a, tenant_b):
    url = detail(tenant_b.policy.pk)

    codes = [
        client_a.get(url).status_code,
        client_a.put(url, {"denied_prefixes": []}).status_code,
        client_a.patch(url, {"denied_prefixes": []}).status_code,
        client_a.delete(url).status_code,
    ]

    assert codes == [404] * 4
