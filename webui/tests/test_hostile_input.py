"""Hostile input into every portal form, the REST API and the monitor WebSocket.

Each payload (SQL injection, HTML/JavaScript, a CRLF header injection aimed at the SIP
messages a value may end up in, NUL bytes, huge Unicode, an oversized value) is put, one
field at a time, into an otherwise valid submission of every form the portal serves (the
fields and their defaults are read off the page itself, as a browser would send them), into
every writable field of the API's collections, and into the monitor socket's filter. Every
answer must be a clear refusal or a correct save, never a server error:

* a refusal re-renders the form with an error (or the API's 400 naming the field) and
  changes nothing in the database;
* a save is only acceptable for free text (a description, a script) and never for NUL
  bytes, CR/LF in a single-line field, or a value longer than its field; the saved page
  shows the text escaped, never as markup;
* the monitor socket answers a bad frame with ``monitor.error``, keeps its previous filter
  and stays open.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from sipplatform.api.services import create_token
from sipplatform.customers.models import Customer, User
from sipplatform.dialplans.models import DestinationPolicy, Dialplan
from sipplatform.directory.models import SIPAccount
from sipplatform.monitor.consumers import MonitorConsumer
from sipplatform.monitor.events import publish_event
from sipplatform.providers.models import Provider

MARK = "HOSTILE"
"""In every payload, so a value that was saved can be found wherever it went."""
PAYLOADS = {
    "sql": f"{MARK}' OR '1'='1'; DROP TABLE directory_sipaccount; --",
    "html": f'{MARK}"><script>alert(1)</script><img src=x onerror=alert(2)>',
    "crlf": f"{MARK}\r\nX-Injected: yes\r\n\r\nINVITE sip:victim@example.com SIP/2.0",
    "nul": f"{MARK}\x00after",
    "unicode": MARK + "\U0001d518\u202e\u0338" * 20_000,  # 60,000 code points, 4-byte ones
    "oversized": MARK + "A" * 1_000_000,
}
TEXT_SAFE = {"sql", "html"}
"""Payloads that are ordinary (if odd) text: any text field may keep them (escaped when shown)."""
FREE_TEXT = {"description", "script", "custom_headers", "password"}
"""Fields whose value never becomes part of a SIP header as it is (custom headers are parsed
line by line), so line breaks in them are no injection."""
ERROR_MARKERS = ("errorlist", "field-error", 'class="error', "invalid", "alert-error")


def snapshot() -> dict[str, list]:
    """Everything the portal's forms and the API can change."""
    return {
        "accounts": list(SIPAccount.objects.order_by("pk").values()),
        "providers": list(Provider.objects.order_by("pk").values()),
        "dialplans": list(Dialplan.objects.order_by("pk").values()),
        "policies": list(DestinationPolicy.objects.order_by("pk").values()),
        "customers": list(Customer.objects.order_by("pk").values()),
    }


# portal forms --------------------------------------------------------------------------------


class FormReader(HTMLParser):
    """The POST forms of a page: action, and each field's name, kind and default value, as
    a browser would submit them."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            if a.get("method", "get").lower() == "post":
                self.forms.append({"action": a.get("action", ""), "fields": {}, "kinds": {}})
            return
        if tag == "option" and self._select is not None and self.forms:
            fields = self.forms[-1]["fields"]
            if "selected" in a or self._select not in fields:
                fields[self._select] = a.get("value", "")
            return
        if not self.forms or "name" not in a:
            return
        form, name = self.forms[-1], a["name"]
        if tag == "input":
            kind = a.get("type", "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    form["fields"][name] = a.get("value", "on")
                form["kinds"].setdefault(name, kind)
            elif kind not in ("submit", "button", "file"):
                form["fields"][name] = a.get("value", "")
                form["kinds"][name] = kind
        elif tag == "select":
            self._select = name
            form["kinds"][name] = "select"
        elif tag == "textarea":
            self._textarea = name
            form["fields"][name] = ""
            form["kinds"][name] = "textarea"

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None and self.forms:
            self.forms[-1]["fields"][self._textarea] += data


def post_forms(client: Client, url: str) -> list[dict]:
    page = client.get(url)
    assert page.status_code == 200, url
    reader = FormReader()
    reader.feed(page.content.decode())
    for form in reader.forms:
        form["action"] = form["action"] or url
    # only the forms that save this page: not the layout's (sign out, the customer switcher)
    # nor the editor's dry run, which save nothing and have tests of their own below
    return [form for form in reader.forms if urlsplit(form["action"]).path == url]


VALID = {
    "username": "hostile-test",
    "name": "hostile-test",
    "server_uri": "sip:trunk.example.net",
    "from_user": "alice",
    "to_user": "1000",
    "account": "",
}
"""Values that make a create form valid where the page's defaults are empty."""


def portal_pages(acme) -> list[str]:
    return [
        reverse("webui:account-create"),
        reverse("webui:account-edit", args=[acme.account.pk]),
        reverse("webui:provider-create"),
        reverse("webui:provider-edit", args=[acme.provider.pk]),
        reverse("webui:dialplan-create"),
        reverse("webui:dialplan-edit", args=[acme.dialplan.pk]),
        reverse("webui:transfer-settings"),
        reverse("webui:policy"),
    ]


def refused_or_safely_saved(
    client: Client, action: str, data: dict, field: str, payload: str, before: dict
) -> None:
    """A save (a redirect, or the new account's page with its password) may keep only text
    that is safe where it goes, and shows it escaped; anything else is refused: the form
    again with an error, or a 400, and the database as it was."""
    response = client.post(action, data)
    where = f"{action} {field}={payload[:20]!r}..."
    assert response.status_code < 500, where
    after = snapshot()
    if repr(after).count(MARK) > repr(before).count(MARK):
        name = next(k for k, v in PAYLOADS.items() if v == payload)
        assert name in TEXT_SAFE or (field in FREE_TEXT and name == "crlf"), f"saved: {where}"
        shown = response
        if response.status_code in (301, 302, 303):
            shown = client.get(urlsplit(response["Location"]).path)
        assert shown.status_code < 500, where
        assert "<script>alert(1)</script>" not in shown.content.decode(), f"unescaped: {where}"
        return
    if response.status_code in (301, 302, 303) or after != before:
        return  # saved, without the value (a field another form of the page handles)
    assert response.status_code in (200, 400, 413, 422), where
    if response.status_code == 200:
        body = response.content.decode(errors="replace")
        assert any(marker in body for marker in ERROR_MARKERS), f"no error shown: {where}"


def valid_submission(form: dict) -> dict:
    """What the browser would send for ``form``, with the empty required fields filled in."""
    base = {**form["fields"]}
    for name, valid in VALID.items():
        if name in base and not base[name]:
            base[name] = valid
    return base


def test_the_submissions_the_hostile_values_go_into_are_valid_as_they_are(acme_client, acme):
    """Otherwise a refusal below could be for another field than the hostile one."""
    for url in portal_pages(acme):
        for form in post_forms(acme_client, url):
            before = snapshot()
            response = acme_client.post(form["action"], valid_submission(form))
            assert response.status_code == 302 or snapshot() != before, url


@pytest.mark.parametrize("payload", list(PAYLOADS), ids=list(PAYLOADS))
def test_every_portal_form_refuses_or_safely_keeps_each_hostile_value(acme_client, acme, payload):
    value = PAYLOADS[payload]
    checked = 0
    for url in portal_pages(acme):
        for form in post_forms(acme_client, url):
            base = valid_submission(form)
            for field, kind in form["kinds"].items():
                if field == "csrfmiddlewaretoken" or kind in ("checkbox", "radio"):
                    continue
                before = snapshot()
                data = {**base, field: value}
                refused_or_safely_saved(acme_client, form["action"], data, field, value, before)
                checked += 1
    assert checked >= 47  # every field (hidden ones too) of every form was tried


@pytest.mark.parametrize("payload", list(PAYLOADS), ids=list(PAYLOADS))
def test_the_dry_run_and_the_record_filters_answer_hostile_values_without_error(
    acme_client, acme, payload
):
    value = PAYLOADS[payload]
    before = snapshot()
    dry_run = reverse("webui:dialplan-dry-run", args=[acme.dialplan.pk])
    for field in ("direction", "account", "from_user", "to_user", "outcomes"):
        data = {"direction": "out", "from_user": "alice", "to_user": "1000", field: value}
        response = acme_client.post(dry_run, data)
        assert response.status_code < 500, field
    for name in ("webui:calls", "webui:transfers"):
        for field in ("date_from", "date_to", "account", "number", "direction", "outcome", "kind"):
            response = acme_client.get(reverse(name), {field: value[:100_000]})
            assert response.status_code in (200, 400), (name, field)
            assert "<script>alert(1)</script>" not in response.content.decode()
        csv = acme_client.get(reverse(name), {"number": value[:1000], "format": "csv"})
        assert csv.status_code in (200, 400)
    assert snapshot() == before


def test_a_form_past_the_upload_limits_is_refused_with_a_clear_error(acme_client, settings):
    before = snapshot()
    url = reverse("webui:dialplan-create")
    huge = acme_client.post(url, {"name": "big", "script": "x" * (3 * 1024 * 1024)})
    many = acme_client.post(url, {f"field{i}": "x" for i in range(2000)})
    for response in (huge, many):
        assert response.status_code == 400
        assert "500" not in response.content.decode()[:200]
    assert snapshot() == before


def test_signing_in_with_hostile_values_is_refused_plainly(client, acme_admin):
    for value in PAYLOADS.values():
        response = client.post(reverse("webui:login"), {"username": value, "password": value})
        assert response.status_code in (200, 400, 429)
        assert "_auth_user_id" not in client.session


def test_the_customer_switcher_ignores_hostile_choices(client, staff_user, acme):
    client.force_login(staff_user)
    for value in PAYLOADS.values():
        response = client.post(reverse("webui:switch-customer"), {"customer": value})
        assert response.status_code < 500


# the REST API --------------------------------------------------------------------------------


API_WRITES = {
    "/api/v1/sip-accounts/": {"username": "api-hostile", "domain": None, "max_concurrent_calls": 1},
    "/api/v1/providers/": {"name": "api-hostile", "server_uri": "sip:trunk.example.net"},
    "/api/v1/dialplans/": {"name": "api-hostile", "script": 'sys.Dial("${dst}@local")\n'},
}
API_FIELDS = {
    "/api/v1/sip-accounts/": ["username", "ip_allow_list", "transfer_default"],
    "/api/v1/providers/": [
        "name",
        "server_uri",
        "outbound_proxy",
        "username",
        "auth_username",
        "password",
        "from_user",
        "from_host",
        "custom_headers",
        "register_contact",
    ],
    "/api/v1/dialplans/": ["name", "description", "script"],
}


@pytest.fixture
def api(acme_admin) -> APIClient:
    _, clear = create_token(acme_admin, "hostile input")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {clear}")
    return client


@pytest.fixture(autouse=True)
def no_throttling(settings):
    settings.REST_FRAMEWORK = settings.REST_FRAMEWORK | {"DEFAULT_THROTTLE_CLASSES": []}


@pytest.mark.parametrize("payload", list(PAYLOADS), ids=list(PAYLOADS))
def test_every_api_write_refuses_or_safely_keeps_each_hostile_value(api, acme, payload):
    value = PAYLOADS[payload]
    for url, valid in API_WRITES.items():
        valid = {k: (acme.account.domain.name if v is None else v) for k, v in valid.items()}
        for field in API_FIELDS[url]:
            before = snapshot()
            response = api.post(url, {**valid, field: value}, format="json")
            where = f"POST {url} {field}={payload}"
            assert response.status_code < 500, where
            if response.status_code == 201:
                assert payload in TEXT_SAFE or (payload == "crlf" and field in FREE_TEXT), where
                api.delete(f"{url}{response.json()['id']}/")
                continue
            assert response.status_code in (400, 413), where
            assert response.json()["fields"] or response.json()["message"], where
            assert snapshot() == before, where


@pytest.mark.parametrize("payload", list(PAYLOADS), ids=list(PAYLOADS))
def test_every_api_update_refuses_or_safely_keeps_each_hostile_value(api, acme, payload):
    value = PAYLOADS[payload]
    updates = {
        f"/api/v1/sip-accounts/{acme.account.pk}/": [
            "password",
            "incoming_dialplan",
            "ip_allow_list",
            "max_concurrent_calls",
            "transfer_default",
        ],
        f"/api/v1/providers/{acme.provider.pk}/": API_FIELDS["/api/v1/providers/"],
        f"/api/v1/dialplans/{acme.dialplan.pk}/": API_FIELDS["/api/v1/dialplans/"],
        "/api/v1/customer/settings/": ["transfer_default", "allow_cross_account_attended_transfer"],
    }
    for url, fields in updates.items():
        for field in fields:
            before = snapshot()
            response = api.patch(url, {field: value}, format="json")
            where = f"PATCH {url} {field}={payload}"
            assert response.status_code < 500, where
            if response.status_code == 200:
                if repr(snapshot()).count(MARK) > repr(before).count(MARK):
                    assert payload in TEXT_SAFE or (payload == "crlf" and field in FREE_TEXT), where
                continue
            assert response.status_code in (400, 413), where
            assert response.json()["fields"], where
            assert snapshot() == before, where


@pytest.mark.parametrize(
    "body",
    [
        b"\x00\x01\x02",
        b'{"name": "a\\u0000b"}',
        b"[" * 10_000 + b"]" * 10_000,
        b'{"name": ' + b'"' + "\U0001d518".encode() * 200_000 + b'"}',
        b"\xff\xfe not utf-8",
    ],
    ids=["binary", "escaped-nul", "deep-nesting", "huge-unicode", "not-utf8"],
)
def test_unreadable_api_bodies_are_a_400(api, acme, body):
    before = snapshot()
    response = api.generic("POST", "/api/v1/dialplans/", body, content_type="application/json")
    assert response.status_code in (400, 413)
    assert snapshot() == before


def test_hostile_query_parameters_to_the_api_are_no_server_error(api, acme):
    for value in PAYLOADS.values():
        for url in ("/api/v1/calls/", "/api/v1/transfers/", "/api/v1/sip-accounts/"):
            response = api.get(url, {"number": value[:50_000], "cursor": value[:1000]})
            assert response.status_code in (200, 400, 404), url


# the monitor WebSocket ----------------------------------------------------------------------


async def ready_socket(user: User) -> WebsocketCommunicator:
    socket = WebsocketCommunicator(MonitorConsumer.as_asgi(), "/ws/monitor/")
    socket.scope["user"] = user
    connected, _ = await socket.connect()
    assert connected
    assert (await socket.receive_json_from())["type"] == "monitor.ready"
    return socket


HOSTILE_FRAMES = [
    *(json.dumps({"type": "filter", "expression": value}) for value in PAYLOADS.values()),
    json.dumps({"type": "filter", "expression": "user " + "(" * 5000}),
    json.dumps({"type": "filter", "expression": " and ".join(["user alice"] * 5000)}),
    json.dumps({"type": "filter", "expression": ["user", "alice"]}),
    json.dumps({"type": "filter", "expression": None}),
    json.dumps({"type": "<script>", "expression": "user alice"}),
    json.dumps([1, 2, 3]),
    "not json at all",
    "{" * 100_000,
    "\x00" * 1000,
]


@pytest.mark.django_db(transaction=True)
async def test_the_monitor_socket_answers_every_hostile_frame_and_keeps_its_filter():
    customer = await Customer.objects.acreate(name="Acme")
    user = await User.objects.acreate(username="acme-ws", customer=customer)
    socket = await ready_socket(user)
    await socket.send_json_to({"type": "filter", "expression": "user bob"})
    assert (await socket.receive_json_from())["type"] == "monitor.filter"
    for frame in HOSTILE_FRAMES:
        await socket.send_to(text_data=frame)
        reply = await socket.receive_json_from(timeout=5)
        assert reply["type"] == "monitor.error", frame[:80]
        assert reply["error"] and len(reply["error"]) < 500
        assert "<script>" not in reply["error"]
    await socket.send_to(bytes_data=b"\x00\xff binary")
    assert (await socket.receive_json_from(timeout=5))["type"] == "monitor.error"
    await publish_event(customer.pk, {"type": "call.new", "call_id": "1", "from": "<sip:alice@x>"})
    await publish_event(customer.pk, {"type": "call.new", "call_id": "2", "from": "<sip:bob@x>"})
    assert (await socket.receive_json_from())["call_id"] == "2"  # the filter held
    await socket.disconnect()
