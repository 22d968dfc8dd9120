"""SIP account pages: a generated password shown exactly once, edit, disable, contacts."""

from django.urls import reverse

from sipcore.auth import ha1
from sipplatform.directory.models import SIPAccount


def create(client, username="acme-desk", **fields):
    data = {"username": username, "max_concurrent_calls": 4, "transfer_default": "inherit"}
    return client.post(reverse("webui:account-create"), data | fields)


def test_creating_an_account_shows_its_generated_password_once(acme_client, acme):
    response = create(acme_client, domain=acme.account.domain_id)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    password = response.context["password"]
    assert len(password) >= 20
    html = response.content.decode()
    assert f'<code id="generated-password" class="password">{password}</code>' in html
    assert "only time the password is shown" in html

    account = SIPAccount.objects.get(username="acme-desk")
    assert account.customer == acme.customer
    assert account.ha1_md5 == ha1("acme-desk", "sip.example.test", password)
    detail = acme_client.get(reverse("webui:account-detail", args=[account.pk]))
    assert password not in detail.content.decode()


def test_a_taken_username_is_an_inline_error_and_nothing_is_saved(acme_client, acme):
    response = create(acme_client, username="acme-phone", domain=acme.account.domain_id)
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert SIPAccount.objects.filter(username="acme-phone").count() == 1


def test_a_bad_username_and_network_are_shown_beside_their_fields(acme_client, acme):
    response = create(
        acme_client, username="Bad Name", domain=acme.account.domain_id, ip_allow_list="10.0.0.1/8"
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert "username" in form.errors
    assert "not a network in CIDR form" in str(form.errors["ip_allow_list"])
    assert 'aria-invalid="true"' in response.content.decode()
    assert not SIPAccount.objects.filter(username="bad name").exists()


def test_the_detail_page_lists_registered_contacts(acme_client, acme):
    html = acme_client.get(reverse("webui:account-detail", args=[acme.account.pk])).content
    html = html.decode()
    assert "sip:acme@192.0.2.10:5062" in html
    assert "acme-softphone/1.0" in html
    assert "udp:192.0.2.10:5062" in html


def test_editing_keeps_the_credentials_and_changes_the_settings(acme_client, acme):
    before = acme.account.ha1_md5
    response = acme_client.post(
        reverse("webui:account-edit", args=[acme.account.pk]),
        {
            "max_concurrent_calls": 2,
            "transfer_default": "c",
            "ip_allow_list": "192.0.2.0/24\n198.51.100.7",
            "outgoing_dialplan": acme.dialplan.pk,
        },
    )
    assert response.status_code == 302
    account = SIPAccount.objects.get(pk=acme.account.pk)
    assert (account.max_concurrent_calls, account.transfer_default) == (2, "c")
    assert account.ip_allow_list == ["192.0.2.0/24", "198.51.100.7"]
    assert account.ha1_md5 == before


def test_another_customers_dialplan_cannot_be_chosen(acme_client, acme, globex):
    response = acme_client.post(
        reverse("webui:account-edit", args=[acme.account.pk]),
        {
            "max_concurrent_calls": 2,
            "transfer_default": "n",
            "outgoing_dialplan": globex.dialplan.pk,
        },
    )
    assert response.status_code == 400
    assert "outgoing_dialplan" in response.context["form"].errors


def test_disabling_and_enabling(acme_client, acme):
    url = reverse("webui:account-disable", args=[acme.account.pk])
    acme_client.post(url, {"disabled": "1"})
    assert SIPAccount.objects.get(pk=acme.account.pk).disabled
    acme_client.post(url, {"disabled": "0"})
    assert not SIPAccount.objects.get(pk=acme.account.pk).disabled


def test_a_new_password_replaces_the_old_one(acme_client, acme):
    response = acme_client.post(reverse("webui:account-password", args=[acme.account.pk]))
    password = response.context["password"]
    account = SIPAccount.objects.get(pk=acme.account.pk)
    assert account.ha1_md5 == ha1("acme-phone", "sip.example.test", password)


def test_staff_choose_a_customer_before_creating(staff_client, acme):
    assert staff_client.get(reverse("webui:account-create")).status_code == 409
    staff_client.post(reverse("webui:switch-customer"), {"customer": acme.customer.pk})
    response = create(staff_client, username="ops-made", domain=acme.account.domain_id)
    assert response.status_code == 200
    assert SIPAccount.objects.get(username="ops-made").customer == acme.customer


def test_staff_list_every_customers_accounts_with_the_customer(staff_client, acme, globex):
    html = staff_client.get(reverse("webui:accounts")).content.decode()
    assert "acme-phone" in html and "globex-phone" in html
    staff_client.post(reverse("webui:switch-customer"), {"customer": globex.customer.pk})
    html = staff_client.get(reverse("webui:accounts")).content.decode()
    assert "globex-phone" in html and "acme-phone" not in html


def test_the_contacts_card_refreshes_itself(acme_client, acme):
    url = reverse("webui:account-contacts", args=[acme.account.pk])
    detail = acme_client.get(reverse("webui:account-detail", args=[acme.account.pk]))
    assert f'hx-get="{url}" hx-trigger="every 10s"' in detail.content.decode()
    acme.account.bindings.all().delete()
    card = acme_client.get(url).content.decode()
    assert card.lstrip().startswith('<section class="card" id="contacts"')
    assert "No phone is registered to this account." in card
