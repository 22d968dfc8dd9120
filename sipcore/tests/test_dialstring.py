"""Dial strings: every syntax case DESIGN.md names, and every error with its position."""

import pytest

from sipcore.dialstring import (
    MAX_LEGS,
    DialContext,
    DialLeg,
    DialStringError,
    LegOptions,
    TargetKind,
    parse_dial_string,
)

CONTEXT = DialContext(dst="0035312345", fromname="Alice & Bob", fromuriuser="alice")


def parse(text: str, context: DialContext = CONTEXT):
    return parse_dial_string(text, context)


def only_leg(text: str, context: DialContext = CONTEXT) -> DialLeg:
    (group,) = parse(text, context).groups
    (leg,) = group
    return leg


def test_user_at_provider_is_a_named_leg_resolved_later():
    assert only_leg("1234@provider") == DialLeg(
        target_kind=TargetKind.NAMED, user="1234", host="provider"
    )


def test_user_at_served_domain_is_also_named():
    leg = only_leg("bob@sip.example.com")
    assert (leg.target_kind, leg.user, leg.host) == (TargetKind.NAMED, "bob", "sip.example.com")


@pytest.mark.parametrize("host", ["local", "LOCAL", "Local"])
def test_user_at_local_is_a_local_account(host):
    leg = only_leg(f"aaron@{host}")
    assert (leg.target_kind, leg.user, leg.host) == (TargetKind.LOCAL, "aaron", "local")


def test_provider_alone_dials_the_called_number_there():
    leg = only_leg("blueface")
    assert (leg.target_kind, leg.user, leg.host) == (
        TargetKind.PROVIDER_ONLY,
        "0035312345",
        "blueface",
    )


@pytest.mark.parametrize(
    ("text", "user", "host", "uri"),
    [
        ("sip:1234@10.0.0.1", "1234", "10.0.0.1", "sip:1234@10.0.0.1"),
        (
            "sips:bob@example.com:5061;transport=tcp",
            "bob",
            "example.com",
            "sips:bob@example.com:5061;transport=tcp",
        ),
        ("sip:example.com", "", "example.com", "sip:example.com"),
        ("sip:a@[::1]:5070", "a", "[::1]", "sip:a@[::1]:5070"),
        ("sip:[::1]", "", "[::1]", "sip:[::1]"),
        ("SIP:x@h;lr;maddr=1.2.3.4", "x", "h", "SIP:x@h;lr;maddr=1.2.3.4"),
    ],
)
def test_full_uris_keep_params_and_ipv6_hosts(text, user, host, uri):
    leg = only_leg(text)
    assert (leg.target_kind, leg.user, leg.host, leg.uri) == (TargetKind.URI, user, host, uri)


def test_bar_separates_sequential_groups_and_ampersand_parallel_legs():
    parsed = parse("a@p1&b@p2|c@local|sip:d@h")
    assert [[(leg.user, leg.host) for leg in group] for group in parsed.groups] == [
        [("a", "p1"), ("b", "p2")],
        [("c", "local")],
        [("d", "h")],
    ]
    assert len(parsed.legs) == 4
    assert str(parsed) == "a@p1&b@p2|c@local|sip:d@h"


def test_whitespace_around_separators_is_ignored():
    parsed = parse(" a@p1 & b@p2 | c@p3 ")
    assert [len(group) for group in parsed.groups] == [2, 1]


def test_all_options():
    leg = only_leg("1234@provider[tr=c,cd=3600,dt=120,fu=anon,fd=Front Desk,fh=example.com]")
    assert leg.options == LegOptions(
        transfer="c",
        answered_limit=3600,
        delay=120,
        from_user="anon",
        from_name="Front Desk",
        from_host="example.com",
    )


@pytest.mark.parametrize("mode", ["n", "p", "c"])
def test_transfer_modes(mode):
    assert only_leg(f"1234@provider[tr={mode}]").options.transfer == mode


def test_options_apply_to_their_own_leg_only():
    first, second = parse("a@p[tr=p]&b@p").legs
    assert (first.options.transfer, second.options.transfer) == ("p", None)


def test_options_on_a_uri_and_on_an_ipv6_uri():
    assert only_leg("sip:a@h;transport=udp[dt=2]").options.delay == 2
    leg = only_leg("sip:a@[::1][tr=n]")
    assert (leg.uri, leg.options.transfer) == ("sip:a@[::1]", "n")


def test_space_before_the_option_block_is_allowed():
    assert only_leg("a@p [tr=c]").options.transfer == "c"


def test_defaults_when_no_options():
    assert only_leg("a@p").options == LegOptions()


@pytest.mark.parametrize(
    ("text", "user"),
    [
        ("${dst}@provider", "0035312345"),
        ("${exten}@provider", "0035312345"),
        ("${dst:2}@provider", "35312345"),
        ("${exten:4}@provider", "312345"),
        ("00${dst:4}@provider", "00312345"),
        ("${fromuriuser}@local", "alice"),
    ],
)
def test_variables_in_the_user_part(text, user):
    assert only_leg(text).user == user


def test_variables_in_uris_and_options():
    leg = only_leg("sip:${dst}@gw.example.com[fu=${fromuriuser},fd=${fromname}]")
    assert leg.uri == "sip:0035312345@gw.example.com"
    assert (leg.options.from_user, leg.options.from_name) == ("alice", "Alice & Bob")


def test_a_variable_value_cannot_add_legs_or_options():
    hostile = DialContext(dst="1&evil@p2", fromname="x],tr=c")
    with pytest.raises(DialStringError, match="not a valid user part"):
        parse("${dst}@provider", hostile)
    options = only_leg("a@p[fd=${fromname}]", hostile).options
    assert (options.from_name, options.transfer) == ("x],tr=c", None)


def test_sipsorcery_examples():
    assert only_leg("1234@provider[tr=n]").options.transfer == "n"
    assert only_leg("aaron@local[tr=p]").target_kind is TargetKind.LOCAL
    parsed = parse("${dst}@provider1|${dst}@provider2")
    assert [leg.host for leg in parsed.legs] == ["provider1", "provider2"]


def test_twenty_legs_are_allowed():
    assert len(parse("&".join(["a@p"] * MAX_LEGS)).legs) == MAX_LEGS


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("", "empty dial string", None),
        ("   ", "empty dial string", None),
        ("a@p|", "empty leg", 5),
        ("|a@p", "empty leg", 1),
        ("a@p&&b@p", "empty leg", 5),
        ("a@p| &b@p", "empty leg", 6),
        ("a@p[tr=c", "'[' is never closed", 4),
        ("a@p]", "']' without a matching '['", 4),
        ("a@p[tr=c]]", "']' without a matching '['", 10),
        ("a@p[tr=x]", "unknown tr value 'x'", 5),
        ("a@p[tr=]", "unknown tr value ''", 5),
        ("a@p[tr=N]", "unknown tr value 'N'", 5),
        ("a@p[zz=1]", "unknown dial string option 'zz'", 5),
        ("a@p[tr=c,xy=1]", "unknown dial string option 'xy'", 10),
        ("a@p[tr]", "needs a value", 5),
        ("a@p[]", "empty option list", 4),
        ("a@p[tr=c,tr=n]", "given twice", 10),
        ("a@p[cd=0]", "cd must be a whole number of seconds from 1", 5),
        ("a@p[cd=-5]", "cd must be", 5),
        ("a@p[cd=1.5]", "cd must be", 5),
        ("a@p[dt=121]", "dt must be a whole number of seconds from 0 to 120", 5),
        ("a@p[dt=x]", "dt must be", 5),
        ("a@p[fh=bad host]", "fh 'bad host' is not a host name", 5),
        ("a@p[fu=a@b]", "not a valid user part", 5),
        ("[tr=c]", "options without a destination", 1),
        ("${foo}@p", "unknown variable '${foo}'", 1),
        ("a@p[fd=${nope}]", "unknown variable '${nope}'", 5),
        ("${fromname:2}@p", "only ${dst:N} and ${exten:N} take a count", 1),
        ("${dst@p", "unterminated variable", 1),
        ("$dst@p", "'$' must start a variable", 1),
        ("@provider", "empty user part", 1),
        ("1234@", "empty provider or domain name", 6),
        ("a b@p", "whitespace inside the leg", 1),
        ("a@p!x", "not a valid provider or domain name", 3),
        ("a@p[tr=c]x", "unexpected bracket", 1),
        ("sip:", "has no usable user@host", 1),
        ("sip:@host", "has no usable user@host", 1),
        ("sip:a@b[tr=c];x", "junk after its host", 1),
        ("sip:a@b c", "whitespace inside the leg", 1),
        ("sip:a@<b>", "contains a character it may not", 1),
        ("bad!provider", "not a valid provider name", 1),
        ("a@p&" * MAX_LEGS + "b@p", f"too many legs (at most {MAX_LEGS})", 81),
    ],
)
def test_errors_have_a_message_and_a_position(text, message, column):
    with pytest.raises(DialStringError) as caught:
        parse(text)
    assert message in caught.value.message
    if column is None:
        assert caught.value.position is None
    else:
        assert caught.value.position == column - 1
        assert f"(at column {column})" in str(caught.value)


def test_provider_alone_without_a_called_number_is_an_error():
    with pytest.raises(DialStringError, match="there is none"):
        parse("blueface", DialContext())


def test_an_empty_called_number_gives_an_empty_user():
    with pytest.raises(DialStringError, match="empty user part"):
        parse("${dst}@provider", DialContext(dst=""))
    with pytest.raises(DialStringError, match="empty user part"):
        parse("${dst:20}@provider", CONTEXT)


def test_non_text_and_oversized_input_are_errors():
    with pytest.raises(DialStringError, match="must be a string"):
        parse_dial_string(42, CONTEXT)  # type: ignore[arg-type]
    with pytest.raises(DialStringError, match="longer than"):
        parse("a" * 5000)


def test_parsed_values_are_frozen():
    leg = only_leg("a@p")
    with pytest.raises(AttributeError):
        leg.user = "b"  # type: ignore[misc]
