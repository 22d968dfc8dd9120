"""The monitor page: its socket script, and a bad filter explained without JavaScript."""

from django.urls import reverse


def test_the_page_loads_the_monitor_script_and_the_filter_box(acme_client):
    html = acme_client.get(reverse("webui:monitor")).content.decode()
    assert "/static/js/monitor.js" in html
    assert '<label for="filter-expression">Filter</label>' in html
    assert 'id="active-calls"' in html and 'id="event-stream"' in html


def test_a_filter_in_the_address_is_shown_in_normal_form(acme_client):
    response = acme_client.get(reverse("webui:monitor"), {"filter": "EVENT call and user Alice"})
    assert response.context["filter_expression"] == "event call and user alice"
    assert response.context["filter_error"] == ""


def test_a_bad_filter_is_explained_on_the_page(acme_client):
    response = acme_client.get(reverse("webui:monitor"), {"filter": "ipaddr nowhere"})
    html = response.content.decode()
    assert "&#x27;nowhere&#x27; is not an IP address or network." in html
    assert 'aria-invalid="true"' in html
