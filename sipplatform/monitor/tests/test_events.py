"""A monitor event is checked where it is published, so a bad one never reaches a socket."""

import pytest

from sipplatform.monitor.events import (
    STAFF_GROUP,
    customer_group,
    groups_for,
    publish_event,
    validate_event,
)


def test_customer_events_go_to_the_customer_and_to_staff():
    assert groups_for(7) == ("customer.7", STAFF_GROUP)
    assert customer_group(7) == "customer.7"


def test_events_without_a_customer_go_to_staff_only():
    assert groups_for(None) == (STAFF_GROUP,)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (["call.ringing"], "a monitor event is a dict, not list"),
        ({"call": "ringing"}, "needs a 'type' like 'call.ringing'"),
        ({"type": "ringing"}, "needs a 'type' like 'call.ringing'"),
        ({"type": "billing.charged"}, "unknown monitor event category 'billing'"),
        ({"type": "call.ringing", "at": object()}, "must be JSON-serialisable"),
    ],
)
def test_a_malformed_event_is_refused_with_the_reason(event, message):
    with pytest.raises(ValueError, match=message):
        validate_event(event)


@pytest.mark.parametrize("customer_id", [0, -3, "5", True, 2.0])
async def test_a_bad_customer_id_is_refused(customer_id):
    with pytest.raises(ValueError, match="customer_id must be a positive id or None"):
        await publish_event(customer_id, {"type": "call.ringing"})


@pytest.mark.parametrize(
    "event_type",
    ["call.ringing", "transfer.refer", "registration.expired", "security.ban", "dialplan.log"],
)
def test_every_category_the_worker_publishes_is_accepted(event_type):
    validate_event({"type": event_type, "user": "alice", "at": 1767225600.5})
