"""Signing in and out of the portal; every portal page needs a signed-in user."""

from django.urls import reverse

from webui.tests.conftest import PASSWORD


def test_an_anonymous_visitor_is_sent_to_the_sign_in_page(client, db):
    response = client.get(reverse("webui:dashboard"))
    assert response.status_code == 302
    assert response.url == f"{reverse('webui:login')}?next=/"


def test_the_sign_in_page_has_a_labelled_form_with_csrf(client, db):
    response = client.get(reverse("webui:login"))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<label for="id_username">Username</label>' in html
    assert '<label for="id_password">Password</label>' in html
    assert "csrfmiddlewaretoken" in html


def test_signing_in_leads_to_the_dashboard(client, acme_admin):
    response = client.post(
        reverse("webui:login"), {"username": "acme-admin", "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain == [(reverse("webui:dashboard"), 302)]
    assert response.context["user"] == acme_admin
    assert "acme-phone@sip.example.test" in response.content.decode()


def test_a_wrong_password_is_refused_with_a_message(client, acme_admin):
    response = client.post(reverse("webui:login"), {"username": "acme-admin", "password": "nope"})
    assert response.status_code == 200
    assert not response.context["user"].is_authenticated
    assert "Please enter a correct username and password" in response.content.decode()


def test_signing_out_ends_the_session(client, acme_admin):
    client.force_login(acme_admin)
    response = client.post(reverse("webui:logout"))
    assert response.status_code == 302
    assert response.url == reverse("webui:login")
    assert client.get(reverse("webui:dashboard")).status_code == 302


def test_sign_out_is_a_post_form_in_the_layout(client, acme_admin):
    client.force_login(acme_admin)
    html = client.get(reverse("webui:dashboard")).content.decode()
    assert f'<form method="post" action="{reverse("webui:logout")}">' in html
