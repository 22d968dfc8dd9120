"""SIP accounts over the API: every verb, the password shown once, tenant isolation."""

from __future__ import annotations

from sipcore.auth import ha1
from sipplatform.directory.models import SIPAccount

URL = "/api/v1/sip-accounts/"


def detail(pk: int) -> str:
    return f"{URL}{pk}/"


def test_list_shows_only_the_callers_accounts(client_a, tenant_a, tenant_b):
    response = client_a.get(URL)

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [tenant_a.account.pk]


def test_staff_list_every_customers_accounts_and_filter_by_customer(
    staff_client, tenant_a, tenant_b
):
    everyone = staff_client.get(URL).json()
    only_b = staff_client.get(URL, {"customer": tenant_b.customer.pk}).json()

    assert {row["id"] for row in everyone["results"]} == {tenant_a.account.pk, tenant_b.account.pk}
    assert [row["id"] for row in only_b["results"]] == [tenant_b.account.pk]


def test_create_with_generated_password_returns_it_once(client_a, tenant_a, settings):
    response = client_a.post(URL, {"username": "desk-12", "transfer_default": "c"})

    assert response.status_code == 201, response.json()
    body = response.json()
    password = body["password"]
    assert len(password) >= 16
    account = SIPAccount.objects.get(pk=body["id"])
    assert account.customer == tenant_a.customer
    assert account.domain.name == settings.SIP_DOMAIN
    assert account.transfer_default == "c"
    assert account.ha1_md5 == ha1("desk-12", settings.SIP_DOMAIN, password, "MD5")
    assert "password" not in client_a.get(detail(account.pk)).json()
    assert password not in str(client_a.get(URL).json())


def test_create_with_given_password_in_own_domain(client_a, tenant_a):
    response = client_a.post(
        URL,
        {"username": "desk-13", "password": "correct-horse-9", "domain": tenant_a.domain.name},
    )

    assert response.status_code == 201, response.json()
    assert response.json()["password"] == "correct-horse-9"
    assert response.json()["aor"] == f"desk-13@{tenant_a.domain.name}"


def test_staff_must_name_the_customer(staff_client, tenant_a):
    refused = staff_client.post(URL, {"username": "desk-14"})
    created = staff_client.post(URL, {"username": "desk-14", "customer": tenant_a.customer.pk})

    assert refused.status_code == 400
    assert "customer" in refused.json()["fields"]
    assert created.status_code == 201
    assert SIPAccount.objects.get(username="desk-14").customer == tenant_a.customer


def test_bad_username_and_short_password_are_field_errors_and_save_nothing(client_a, tenant_a):
    before = SIPAccount.objects.count()

    bad_name = client_a.post(URL, {"username": "Not Valid!"})
    short_password = client_a.post(URL, {"username": "desk-15", "password": "short"})

    assert bad_name.status_code == 400
    assert bad_name.json()["fields"]["username"][0]["code"] == "invalid_username"
    assert short_password.status_code == 400
    assert "8 to 128" in short_password.json()["fields"]["password"][0]["message"]
    assert SIPAccount.objects.count() == before


def test_duplicate_username_in_a_domain_is_refused(client_a, tenant_a):
    response = client_a.post(URL, {"username": tenant_a.account.username})

    assert response.status_code == 400
    assert response.json()["fields"]["non_field_errors"]


def test_another_customers_domain_or_dialplan_cannot_be_used(client_a, tenant_b):
    foreign_domain = client_a.post(URL, {"username": "desk-16", "domain": tenant_b.domain.name})
    foreign_dialplan = client_a.post(
        URL, {"username": "desk-17", "incoming_dialplan": tenant_b.dialplan.pk}
    )

    assert foreign_domain.status_code == 400
    assert "domain" in foreign_domain.json()["fields"]
    assert foreign_dialplan.status_code == 400
    assert "incoming_dialplan" in foreign_dialplan.json()["fields"]


def test_retrieve_update_and_partial_update(client_a, tenant_a):
    url = detail(tenant_a.account.pk)
    put = client_a.put(
        url,
        {
            "username": tenant_a.account.username,
            "domain": tenant_a.account.domain.name,
            "outgoing_dialplan": tenant_a.dialplan.pk,
            "ip_allow_list": ["192.0.2.0/24"],
            "max_concurrent_calls": 2,
        },
    )
    patch = client_a.patch(url, {"transfer_default": "p", "disabled": True})
    got = client_a.get(url).json()

    assert put.status_code == 200, put.json()
    assert patch.status_code == 200, patch.json()
    assert got["outgoing_dialplan"] == tenant_a.dialplan.pk
    assert got["ip_allow_list"] == ["192.0.2.0/24"]
    assert got["transfer_default"] == "p"
    assert got["effective_transfer_policy"] == {"value": "p", "source": "account"}
    assert got["disabled"] is True


def test_bad_update_saves_nothing(client_a, tenant_a):
    url = detail(tenant_a.account.pk)

    response = client_a.patch(url, {"disabled": True, "ip_allow_list": ["not-a-network"]})

    assert response.status_code == 400
    assert response.json()["fields"]["ip_allow_list"][0]["code"] == "invalid_cidr"
    tenant_a.account.refresh_from_db()
    assert tenant_a.account.disabled is False


def test_renaming_needs_a_new_password(client_a, tenant_a):
    url = detail(tenant_a.account.pk)

    without = client_a.patch(url, {"username": "renamed"})
    with_password = client_a.patch(url, {"username": "renamed", "password": "fresh-secret-1"})

    assert without.status_code == 400
    assert "username" in without.json()["fields"]
    assert with_password.status_code == 200
    assert "password" not in with_password.json()
    tenant_a.account.refresh_from_db()
    realm = tenant_a.account.domain.name
    assert tenant_a.account.ha1_md5 == ha1("renamed", realm, "fresh-secret-1", "MD5")


def test_reset_password_generated_and_given(client_a, tenant_a):
    url = f"{detail(tenant_a.account.pk)}reset-password/"

    generated = client_a.post(url, {})
    given = client_a.post(url, {"password": "chosen-secret-2"})
    too_short = client_a.post(url, {"password": "x"})

    assert generated.status_code == 200
    assert len(generated.json()["password"]) >= 16
    assert given.json() == {"password": "chosen-secret-2"}
    assert too_short.status_code == 400
    assert "password" in too_short.json()["fields"]
    tenant_a.account.refresh_from_db()
    realm = tenant_a.account.domain.name
    expected = ha1(tenant_a.account.username, realm, "chosen-secret-2", "SHA-256")
    assert tenant_a.account.ha1_sha256 == expected


def test_delete(client_a, tenant_a):
    response = client_a.delete(detail(tenant_a.account.pk))

    assert response.status_code == 204
    assert not SIPAccount.objects.filter(pk=tenant_a.account.pk).exists()


def test_another_customers_account_is_404_for_every_verb(client_a, tenant_b):
    url = detail(tenant_b.account.pk)

    answers = [
        client_a.get(url),
        client_a.put(url, {"username": "stolen"}),
        client_a.patch(url, {"disabled": True}),
        client_a.delete(url),
        client_a.post(f"{url}reset-password/", {}),
    ]

    assert [answer.status_code for answer in answers] == [404] * 5
    assert answers[0].json()["code"] == "not_found"
    tenant_b.account.refresh_from_db()
    assert tenant_b.account.disabled is False
