"""Dialplans over the API: validated exactly as the model validates them, errors located."""

from __future__ import annotations

from sipplatform.dialplans.models import Dialplan

URL = "/api/v1/dialplans/"
SCRIPT = 'if sys.Out:\n    sys.Dial("${dst}@trunk")\n'


def detail(pk: int) -> str:
    return f"{URL}{pk}/"


def test_create_list_retrieve(client_a, tenant_a, tenant_b):
    created = client_a.post(URL, {"name": "transfer", "script": SCRIPT, "description": "x"})

    assert created.status_code == 201, created.json()
    assert created.json()["is_transfer_dialplan"] is True
    assert created.json()["script"] == SCRIPT
    listed = client_a.get(URL).json()["results"]
    assert {row["name"] for row in listed} == {"default", "transfer"}
    assert client_a.get(detail(created.json()["id"])).json()["customer"] == tenant_a.customer.pk


def test_syntax_error_gives_line_and_column_and_saves_nothing(client_a, tenant_a):
    response = client_a.post(URL, {"name": "broken", "script": "x = 1\ny = )\n"})

    assert response.status_code == 400
    error = response.json()["fields"]["script"][0]
    assert error["code"] == "syntax_error"
    assert (error["line"], error["column"]) == (2, 5)
    assert error["message"].startswith("Syntax error at line 2, column 5: unexpected symbol")
    assert not Dialplan.objects.filter(name="broken").exists()


def test_while_is_refused_like_the_model_refuses_it(client_a, tenant_a):
    response = client_a.patch(detail(tenant_a.dialplan.pk), {"script": "while True:\n    pass\n"})

    assert response.status_code == 400
    assert response.json()["fields"]["script"][0]["line"] == 1
    tenant_a.dialplan.refresh_from_db()
    assert tenant_a.dialplan.script == "x = 1\n"


def test_update_and_partial_update(client_a, tenant_a):
    url = detail(tenant_a.dialplan.pk)

    put = client_a.put(url, {"name": "default", "script": SCRIPT})
    patch = client_a.patch(url, {"description": "outgoing calls"})

    assert put.status_code == 200, put.json()
    assert patch.json()["description"] == "outgoing calls"
    tenant_a.dialplan.refresh_from_db()
    assert tenant_a.dialplan.script == SCRIPT


def test_duplicate_and_bad_names_are_refused(client_a, tenant_a):
    duplicate = client_a.post(URL, {"name": "default", "script": SCRIPT})
    bad_name = client_a.post(URL, {"name": "no spaces", "script": SCRIPT})

    assert duplicate.status_code == 400
    assert bad_name.json()["fields"]["name"][0]["code"] == "invalid_name"


def test_delete(client_a, tenant_a):
    assert client_a.delete(detail(tenant_a.dialplan.pk)).status_code == 204
    assert not Dialplan.objects.filter(pk=tenant_a.dialplan.pk).exists()


def test_another_customers_dialplan_is_404_for_every_verb(client_a, tenant_b):
    url = detail(tenant_b.dialplan.pk)

    codes = [
        client_a.get(url).status_code,
        client_a.put(url, {"name": "default", "script": SCRIPT}).status_code,
        client_a.patch(url, {"script": SCRIPT}).status_code,
        client_a.delete(url).status_code,
    ]

    assert codes == [404] * 4
