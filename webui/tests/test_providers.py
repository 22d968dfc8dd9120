"""Provider pages: create and edit with a write-only password, live registration state."""

from django.urls import reverse
from django.utils import timezone

from sipplatform.providers.models import Provider, ProviderRegistration
from sipplatform.providers.services import update_registration


def provider_data(**fields):
    return {
        "name": "acme-second",
        "server_uri": "sip:second.test",
        "register_expiry": 3600,
    } | fields


def test_creating_a_provider_stores_the_password_encrypted(acme_client, acme):
    response = acme_client.post(
        reverse("webui:provider-create"), provider_data(password="trunk-pass", register="on")
    )
    assert response.status_code == 302
    provider = Provider.objects.get(name="acme-second")
    assert provider.customer == acme.customer
    assert provider.get_password() == "trunk-pass"
    assert "trunk-pass" not in provider.password_encrypted
    assert ProviderRegistration.objects.filter(provider=provider).exists()
    html = acme_client.get(reverse("webui:provider-edit", args=[provider.pk])).content.decode()
    assert "trunk-pass" not in html


def test_a_clashing_name_and_a_protected_header_are_inline_errors(acme_client, acme):
    response = acme_client.post(
        reverse("webui:provider-create"),
        provider_data(name="acme-trunk", custom_headers="Via: x"),
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "already exists" in html
    assert "the platform sets Via itself" in html
    assert Provider.objects.filter(customer=acme.customer).count() == 1


def test_editing_without_a_password_keeps_the_stored_one(acme_client, acme):
    acme.provider.set_password("kept-secret")
    acme.provider.save()
    response = acme_client.post(
        reverse("webui:provider-edit", args=[acme.provider.pk]),
        provider_data(name="acme-trunk", server_uri="sip:new.test"),
    )
    assert response.status_code == 302
    provider = Provider.objects.get(pk=acme.provider.pk)
    assert (provider.server_uri, provider.get_password()) == ("sip:new.test", "kept-secret")


def test_the_registration_cell_polls_and_shows_the_current_state(acme_client, acme):
    acme.provider.register = True
    acme.provider.save()
    url = reverse("webui:provider-registration", args=[acme.provider.pk])
    html = acme_client.get(reverse("webui:providers")).content.decode()
    assert f'hx-get="{url}" hx-trigger="every 5s"' in html
    assert "not registered" in acme_client.get(url).content.decode()
    update_registration(acme.provider.pk, registered=True, expires_at=timezone.now())
    assert '<span class="badge ok">registered</span>' in acme_client.get(url).content.decode()
    update_registration(acme.provider.pk, registered=False, failure_reason="403 Forbidden")
    cell = acme_client.get(url).content.decode()
    assert "failing" in cell and "403 Forbidden" in cell
