"""The dialplan editor: a syntax error is refused with its line and column, a good script is
saved, and the dry run shows the actions the saved script takes."""

from django.urls import reverse

from sipplatform.dialplans.models import Dialplan

BROKEN = 'sys.Log("start")\nif sys.Out\n    sys.Dial("${dst}@local")\n'
FIXED = 'sys.Log("start")\nif sys.Out:\n    sys.Dial("${dst}@local")\nsys.Respond(480, "Nobody")\n'


def test_a_syntax_error_is_refused_and_marked_at_its_line(acme_client, acme):
    response = acme_client.post(
        reverse("webui:dialplan-create"), {"name": "outgoing", "script": BROKEN}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-error-line="2"' in html
    assert "data-error-column=" in html
    assert "Syntax error at line 2" in html
    assert 'data-code-editor="python"' in html
    assert not Dialplan.objects.filter(name="outgoing").exists()


def test_a_fixed_script_is_saved(acme_client, acme):
    response = acme_client.post(
        reverse("webui:dialplan-create"), {"name": "outgoing", "script": FIXED}
    )
    dialplan = Dialplan.objects.get(name="outgoing")
    assert response.url == reverse("webui:dialplan-edit", args=[dialplan.pk])
    assert (dialplan.customer, dialplan.script) == (acme.customer, FIXED)


def test_a_name_taken_by_the_customer_is_an_inline_error(acme_client, acme):
    response = acme_client.post(
        reverse("webui:dialplan-create"), {"name": "acme-plan", "script": FIXED}
    )
    assert response.status_code == 400
    assert "already exists" in response.content.decode()


def test_the_editor_is_a_labelled_textarea_without_javascript(acme_client, acme):
    html = acme_client.get(reverse("webui:dialplan-edit", args=[acme.dialplan.pk])).content
    html = html.decode()
    assert '<label for="id_script">Script' in html
    assert '<textarea name="script"' in html
    assert "/static/js/editor.bundle.js" in html


def test_deleting_asks_first_then_deletes(acme_client, acme):
    url = reverse("webui:dialplan-delete", args=[acme.dialplan.pk])
    page = acme_client.get(url).content.decode()
    assert "acme-phone@sip.example.test" in page
    assert acme_client.post(url).status_code == 302
    assert not Dialplan.objects.filter(pk=acme.dialplan.pk).exists()


def test_a_dry_run_shows_the_dial_respond_and_log_actions(acme_client, acme):
    acme.dialplan.script = FIXED
    acme.dialplan.save()
    response = acme_client.post(
        reverse("webui:dialplan-dry-run", args=[acme.dialplan.pk]),
        {
            "direction": "out",
            "account": "acme-phone",
            "from_user": "acme-phone",
            "to_user": "1000",
            "outcomes": "Busy",
        },
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    kinds = [action.kind for action in response.context["actions"]]
    assert kinds == ["Log", "Dial", "Respond", "End"]
    html = response.content.decode()
    assert "${dst}@local → Busy" in html
    assert "legs 1000@local" in html
    assert "480 Nobody" in html
    assert html.startswith('<div id="dry-run-result"')


def test_a_bad_dry_run_outcome_is_explained(acme_client, acme):
    response = acme_client.post(
        reverse("webui:dialplan-dry-run", args=[acme.dialplan.pk]),
        {"direction": "out", "account": "a", "from_user": "a", "to_user": "1", "outcomes": "Maybe"},
    )
    assert response.status_code == 400
    assert "Maybe is not a Dial outcome" in response.content.decode()


def test_the_dry_run_form_starts_from_one_of_the_customers_accounts(acme_client, acme):
    response = acme_client.get(reverse("webui:dialplan-edit", args=[acme.dialplan.pk]))
    form = response.context["dry_run_form"]
    assert form.initial == {"account": "acme-phone", "from_user": "acme-phone"}


def test_without_javascript_the_dry_run_answers_the_whole_editor_page(acme_client, acme):
    response = acme_client.post(
        reverse("webui:dialplan-dry-run", args=[acme.dialplan.pk]),
        {"direction": "in", "account": "acme-phone", "from_user": "x", "to_user": "acme-phone"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Dialplan acme-plan</h1>" in html
    assert "${dst}@local → NoAnswer" in html
