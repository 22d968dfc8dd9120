"""The dashboard shows the signed-in customer's objects only; staff see every customer."""

from django.urls import reverse


def dashboard_html(client, user) -> str:
    client.force_login(user)
    response = client.get(reverse("webui:dashboard"))
    assert response.status_code == 200
    return response.content.decode()


def test_a_customer_sees_its_accounts_providers_and_dialplans(client, acme_admin):
    html = dashboard_html(client, acme_admin)
    assert "acme-phone@sip.example.test" in html
    assert "acme-trunk" in html
    assert "acme-plan" in html


def test_a_customer_sees_nothing_of_another_customer(client, acme_admin, globex_admin):
    html = dashboard_html(client, acme_admin)
    assert "Globex" not in html
    assert "globex" not in html


def test_staff_see_every_customer_grouped(client, acme_admin, globex_admin, staff_user):
    html = dashboard_html(client, staff_user)
    html = html[html.index('<main id="content">') :]
    acme_at, globex_at = html.index('<h2 id="customer-'), html.index(">Globex")
    assert acme_at < globex_at
    acme_section, globex_section = html[acme_at:globex_at], html[globex_at:]
    assert "acme-phone" in acme_section and "acme-trunk" in acme_section
    assert "globex-phone" in globex_section and "globex-plan" in globex_section
    assert "globex" not in acme_section


def test_the_navigation_lists_only_sections_that_exist(client, acme_admin):
    html = dashboard_html(client, acme_admin)
    nav = html[html.index('<nav class="main-nav"') : html.index("</nav>")]
    assert 'aria-current="page">Dashboard</a>' in nav
    assert "Admin" not in nav


def test_a_provider_without_registration_is_shown_off(client, acme_admin):
    html = dashboard_html(client, acme_admin)
    assert '<span class="badge off">off</span>' in html


def test_the_stylesheet_is_served_from_the_app_not_a_cdn(client, acme_admin):
    html = dashboard_html(client, acme_admin)
    assert '<link rel="stylesheet" href="/static/css/app.css">' in html
    assert "://" not in html.split("<body>")[0]
