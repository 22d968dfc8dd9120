"""The Headers multi-dict: names, compact forms, list splitting and changes."""

from __future__ import annotations

import pytest

from sipcore.message import Headers, ParseError
from sipcore.message.headers import split_list


def test_message_headers_names_are_case_insensitive_and_compact_forms_expand() -> None:
    headers = Headers(
        [("v", "SIP/2.0/UDP a"), ("VIA", "SIP/2.0/UDP b"), ("i", "x@y"), ("X-Foo", "1")]
    )
    assert headers.get("Via") == "SIP/2.0/UDP a"
    assert headers.get_all("v") == ["SIP/2.0/UDP a", "SIP/2.0/UDP b"]
    assert headers.get("call-id") == "x@y" and "Call-ID" in headers and "i" in headers
    assert headers.get("x-foo") == "1" and headers.get("missing") is None
    assert headers.count("v") == 2 and headers.count("Route") == 0
    assert [name for name, _ in headers.items()] == ["Via", "Via", "Call-ID", "X-Foo"]


def test_message_headers_split_only_list_headers() -> None:
    headers = Headers([
        ("Contact", '"Doe, John" <sip:j@h;a=1,2>, <sip:k@h>'),
        ("Date", "Sat, 13 Nov 2010 23:29:00 GMT"),
        ("Authorization", 'Digest username="a", realm="b"'),
        ("X-Unknown", "a, b"),
        ("Supported", ""),
    ])  # fmt: skip
    assert headers.get_all("Contact") == ['"Doe, John" <sip:j@h;a=1,2>', "<sip:k@h>"]
    assert headers.get("Contact") == '"Doe, John" <sip:j@h;a=1,2>'
    assert headers.get_raw("Contact") == ['"Doe, John" <sip:j@h;a=1,2>, <sip:k@h>']
    assert headers.get("Date") == "Sat, 13 Nov 2010 23:29:00 GMT"
    assert headers.get_all("Date") == ["Sat, 13 Nov 2010 23:29:00 GMT"]
    assert headers.get_all("Authorization") == ['Digest username="a", realm="b"']
    assert headers.get_all("X-Unknown") == ["a, b"]
    assert headers.get_all("Supported") == []


def test_message_split_list_edge_cases() -> None:
    assert split_list('a, "b, \\"c", <d,e>') == ["a", '"b, \\"c"', "<d,e>"]
    assert split_list(" a ,, b ,") == ["a", "b"]
    with pytest.raises(ParseError):
        split_list('"unterminated, x')
    with pytest.raises(ParseError):
        split_list("<sip:a@b, c")


def test_message_headers_set_add_prepend_remove() -> None:
    headers = Headers([("Via", "SIP/2.0/UDP a"), ("To", "<sip:b@h>"), ("Via", "SIP/2.0/UDP c")])
    headers.prepend("Via", "SIP/2.0/UDP z")
    assert headers.get_all("Via") == ["SIP/2.0/UDP z", "SIP/2.0/UDP a", "SIP/2.0/UDP c"]
    headers.set("via", "SIP/2.0/UDP only")
    assert headers.get_all("Via") == ["SIP/2.0/UDP only"]
    assert [n for n, _ in headers.items()] == ["Via", "To"]
    headers.add("Route", "<sip:r@h;lr>")
    headers.remove("ROUTE")
    assert "Route" not in headers and len(headers) == 2
    headers.remove("Not-There")
    headers.prepend("Max-Forwards", "70")
    assert headers.items()[0] == ("Max-Forwards", "70")


def test_message_headers_refuse_injection() -> None:
    headers = Headers()
    for value in ("a\r\nVia: evil", "a\nb", "a\rb", "nul\x00"):
        with pytest.raises(ValueError):
            headers.add("X-Test", value)
    for name in ("Bad Name", "", "a:b"):
        with pytest.raises(ValueError):
            headers.add(name, "x")
    with pytest.raises(ValueError):
        headers.add("X-Test", "\ud800")
    headers.add("X-Test", '"escaped \\\x00 nul"')


def test_message_headers_copy_is_independent_and_equality() -> None:
    headers = Headers([("To", "<sip:b@h>")])
    copy = headers.copy()
    copy.add("From", "<sip:a@h>;tag=1")
    assert headers != copy and "From" not in headers
    assert Headers([("t", "<sip:b@h>")]) == headers
