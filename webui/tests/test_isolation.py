"""Tenant isolation: another customer's user gets 404 for every page about Acme's objects,
changes nothing by posting to them, and finds none of Acme's data on any list or export."""

import pytest
from django.urls import reverse

from sipplatform.dialplans.models import Dialplan
from sipplatform.directory.models import SIPAccount
from sipplatform.providers.models import Provider

OBJECT_PAGES = [
    ("webui:account-detail", "account", "get"),
    ("webui:account-edit", "account", "get"),
    ("webui:account-contacts", "account", "get"),
    ("webui:account-edit", "account", "post"),
    ("webui:account-disable", "account", "post"),
    ("webui:account-password", "account", "post"),
    ("webui:provider-edit", "provider", "get"),
    ("webui:provider-edit", "provider", "post"),
    ("webui:provider-registration", "provider", "get"),
    ("webui:dialplan-edit", "dialplan", "get"),
    ("webui:dialplan-edit", "dialplan", "post"),
    ("webui:dialplan-delete", "dialplan", "get"),
    ("webui:dialplan-delete", "dialplan", "post"),
    ("webui:dialplan-dry-run", "dialplan", "post"),
    ("webui:transfer-detail", "transfer", "get"),
]
LIST_PAGES = [
    "webui:dashboard",
    "webui:accounts",
    "webui:providers",
    "webui:dialplans",
    "webui:transfer-settings",
    "webui:policy",
    "webui:calls",
    "webui:transfers",
    "webui:monitor",
]


@pytest.mark.parametrize(("name", "kind", "method"), OBJECT_PAGES)
def test_another_customers_object_is_not_found(client, acme, globex_admin, name, kind, method):
    client.force_login(globex_admin)
    url = reverse(name, args=[getattr(acme, kind).pk])
    payload = {"disabled": "1", "name": "stolen", "script": "x = 1\n", "server_uri": "sip:x"}
    response = client.get(url) if method == "get" else client.post(url, payload)
    assert response.status_code == 404
    assert "it belongs to another customer" in response.content.decode()


def test_posting_to_another_customers_objects_changes_nothing(client, acme, globex_admin):
    client.force_login(globex_admin)
    client.post(reverse("webui:account-disable", args=[acme.account.pk]), {"disabled": "1"})
    client.post(reverse("webui:dialplan-delete", args=[acme.dialplan.pk]))
    client.post(reverse("webui:provider-edit", args=[acme.provider.pk]), {"name": "x"})
    assert not SIPAccount.objects.get(pk=acme.account.pk).disabled
    assert Dialplan.objects.filter(pk=acme.dialplan.pk).exists()
    assert Provider.objects.get(pk=acme.provider.pk).name == "acme-trunk"


@pytest.mark.parametrize("name", LIST_PAGES)
def test_no_page_shows_another_customers_data(client, acme, globex_admin, name):
    client.force_login(globex_admin)
    response = client.get(reverse(name))
    assert response.status_code == 200
    main = response.content.decode().split('<main id="content">')[1]
    assert "acme" not in main.lower()


@pytest.mark.parametrize("name", ["webui:calls", "webui:transfers"])
def test_the_csv_export_holds_only_the_users_records(client, acme, globex_admin, name):
    client.force_login(globex_admin)
    response = client.get(reverse(name), {"format": "csv"})
    body = b"".join(response.streaming_content).decode()
    assert "globex" in body
    assert "acme" not in body


def test_a_customer_cannot_use_the_customer_switcher(client, acme, globex_admin):
    client.force_login(globex_admin)
    response = client.post(reverse("webui:switch-customer"), {"customer": acme.customer.pk})
    assert response.status_code == 404
    html = client.get(reverse("webui:accounts")).content.decode()
    assert "acme-phone" not in html


@pytest.mark.parametrize("name", [*LIST_PAGES, "webui:account-create", "webui:dialplan-create"])
def test_every_page_needs_a_signed_in_user(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response.url.startswith(reverse("webui:login"))
