"""Publishing monitor events to the channel layer.

Every event goes to two groups: its customer's (``customer.<id>``) and platform staff's
(``staff``), so a customer's socket carries only its own events while staff see all of them.
An event with no customer (say a ``security.*`` event about an unknown address) goes to staff
only. The same code path serves the embedded platform (in-memory layer, one process) and
production (``channels_redis``, the SIP worker and daphne in separate processes).
"""

import asyncio
import json
from collections.abc import Sequence
from typing import Any, TypedDict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from sipplatform.customers.managers import customer_id_of, is_platform_staff

STAFF_GROUP = "staff"
EVENT_CATEGORIES = ("call", "transfer", "registration", "security", "dialplan")
MESSAGE_TYPE = "monitor.event"
BATCH_MESSAGE_TYPE = "monitor.events"


class MonitorMessage(TypedDict):
    """What travels through the channel layer; ``type`` selects the consumer's handler."""

    type: str
    event: dict[str, Any]


class MonitorBatch(TypedDict):
    """Several events for one group in one channel-layer message (see ``publish_events``)."""

    type: str
    events: list[dict[str, Any]]


def customer_group(customer_id: int) -> str:
    """The group of one customer's monitor sockets."""
    return f"customer.{customer_id}"


def groups_for(customer_id: int | None) -> tuple[str, ...]:
    """The groups an event of ``customer_id`` is delivered to."""
    if customer_id is None:
        return (STAFF_GROUP,)
    return (customer_group(customer_id), STAFF_GROUP)


def group_for_user(user: Any) -> str | None:
    """The one group a signed-in user's monitor socket joins; None when it may join none."""
    if is_platform_staff(user):
        return STAFF_GROUP
    customer_id = customer_id_of(user)
    return None if customer_id is None else customer_group(customer_id)


def validate_event(event: dict[str, Any]) -> None:
    """Refuse an event the monitor page could not show, with the reason.

    An event is a JSON object whose ``type`` is ``<category>.<name>`` with a known category
    (``call.ringing``, ``transfer.refer``, ...). Checked here, at the publisher, so a bad event
    fails where it was made instead of inside every subscriber's socket.
    """
    if not isinstance(event, dict):
        raise ValueError(f"a monitor event is a dict, not {type(event).__name__}")
    event_type = event.get("type")
    if not isinstance(event_type, str) or "." not in event_type:
        raise ValueError(f"a monitor event needs a 'type' like 'call.ringing', got {event_type!r}")
    category = event_type.partition(".")[0]
    if category not in EVENT_CATEGORIES:
        raise ValueError(
            f"unknown monitor event category {category!r} (expected one of "
            f"{', '.join(EVENT_CATEGORIES)})"
        )
    try:
        json.dumps(event)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"a monitor event must be JSON-serialisable: {exc}") from None


def _is_positive_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


async def publish_event(customer_id: int | None, event: dict[str, Any]) -> None:
    """Send ``event`` to the customer's monitor sockets and to staff's (from async code)."""
    validate_event(event)
    if customer_id is not None and not _is_positive_id(customer_id):
        raise ValueError(f"customer_id must be a positive id or None, got {customer_id!r}")
    layer = get_channel_layer()
    message: MonitorMessage = {"type": MESSAGE_TYPE, "event": event}
    for group in groups_for(customer_id):
        await layer.group_send(group, message)


def validate_publication(customer_id: int | None, event: dict[str, Any]) -> None:
    """Refuse what ``publish_event`` would refuse: a bad event or a bad customer id."""
    validate_event(event)
    if customer_id is not None and not _is_positive_id(customer_id):
        raise ValueError(f"customer_id must be a positive id or None, got {customer_id!r}")


async def publish_events(events: Sequence[tuple[int | None, dict[str, Any]]]) -> None:
    """Send ``(customer_id, event)`` pairs, in order, with one channel-layer message per group.

    A busy SIP worker publishes several events per call; each group send costs a few Redis
    round trips, so the events queued together share them. A group receiving a single event
    gets the plain ``monitor.event`` message. Every event is checked first: one the monitor
    could not show raises before anything is sent.
    """
    by_group: dict[str, list[dict[str, Any]]] = {}
    for customer_id, event in events:
        validate_publication(customer_id, event)
        for group in groups_for(customer_id):
            by_group.setdefault(group, []).append(event)
    layer = get_channel_layer()
    messages: dict[str, MonitorMessage | MonitorBatch] = {
        group: (
            {"type": MESSAGE_TYPE, "event": batch[0]}
            if len(batch) == 1
            else {"type": BATCH_MESSAGE_TYPE, "events": batch}
        )
        for group, batch in by_group.items()
    }
    await asyncio.gather(*(layer.group_send(group, m) for group, m in messages.items()))


def publish_event_sync(customer_id: int | None, event: dict[str, Any]) -> None:
    """:func:`publish_event` for synchronous code (Django views, Celery tasks)."""
    async_to_sync(publish_event)(customer_id, event)
