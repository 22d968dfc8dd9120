"""The monitor's filter language: what matches, and a clear error for what does not parse."""

import pytest

from sipplatform.monitor.filters import MATCH_ALL, FilterError, parse_filter

RINGING = {"type": "call.ringing", "call_id": "c1", "from": '"Alice" <sip:alice@127.0.0.1>;tag=1'}
TRANSFER = {
    "type": "transfer.requested",
    "call_id": "c1",
    "transferor": "<sip:alice@sip.test>",
    "refer_to": "<sip:carol@sip.test>",
}
REGISTERED = {
    "type": "registration.added",
    "account": "bob@sip.test",
    "contact": "sip:bob@[2001:db8::5]:5060;transport=udp",
}


@pytest.mark.parametrize(
    ("expression", "matching"),
    [
        ("event call", [RINGING]),
        ("event call.ringing", [RINGING]),
        ("event transfer and user alice", [TRANSFER]),
        ("user alice", [RINGING, TRANSFER]),
        ("user carol", [TRANSFER]),
        ("user bob", [REGISTERED]),
        ("USER Alice AND Event Call", [RINGING]),
        ("ipaddr 127.0.0.1", [RINGING]),
        ("ipaddr 2001:db8::/32", [REGISTERED]),
        ("callid c1", [RINGING, TRANSFER]),
        ("not event call", [TRANSFER, REGISTERED]),
        ("event registration or user alice and event transfer", [TRANSFER, REGISTERED]),
        ('user "alice"', [RINGING, TRANSFER]),
        ("", [RINGING, TRANSFER, REGISTERED]),
    ],
)
def test_an_expression_matches_the_events_it_names(expression, matching):
    events = [RINGING, TRANSFER, REGISTERED]
    event_filter = parse_filter(expression)
    assert [event for event in events if event_filter.matches(event)] == matching


def test_a_user_name_is_matched_whole_not_as_a_prefix():
    assert not parse_filter("user ali").matches(RINGING)


def test_the_expression_is_echoed_in_a_normal_form():
    assert str(parse_filter("EVENT Call  and  user Alice")) == "event call and user alice"
    assert str(parse_filter('user "two words" or not ipaddr 10.1.2.3/8')) == (
        'user "two words" or not ipaddr 10.0.0.0/8'
    )
    assert parse_filter("   ") is MATCH_ALL


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("event", "'event' needs a value, like 'event call'."),
        ("colour red", "Unknown field 'colour': use one of event, user, ipaddr, callid."),
        ("event billing", "Unknown event 'billing'"),
        ("ipaddr localhost", "'localhost' is not an IP address or network."),
        ("event call user alice", "Expected 'and' or 'or' after 'event call', found 'user'."),
        ("event call and", "Expected a condition after 'and'"),
        ("not", "Expected a condition after 'not'"),
        ('user "alice', "A quoted value is not closed."),
        ("event and user alice", "'event' needs a value"),
        ("user " + "a" * 600, "longer than 500 characters"),
    ],
)
def test_a_bad_expression_is_refused_with_a_clear_message(expression, message):
    with pytest.raises(FilterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_filter(expression)


def test_something_that_is_not_text_is_refused():
    with pytest.raises(FilterError, match="must be text"):
        parse_filter(["event", "call"])
