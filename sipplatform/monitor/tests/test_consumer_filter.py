"""A filter sent over the monitor socket narrows what the socket carries."""

import json

import pytest
from channels.testing import WebsocketCommunicator

from sipplatform.customers.models import Customer, User
from sipplatform.monitor.consumers import MonitorConsumer
from sipplatform.monitor.events import publish_event

pytestmark = pytest.mark.django_db(transaction=True)

CALL = {"type": "call.new", "call_id": "c1", "from": "<sip:alice@sip.test>"}
TRANSFER = {"type": "transfer.requested", "call_id": "c1", "transferor": "<sip:alice@sip.test>"}
BOB_CALL = {"type": "call.new", "call_id": "c2", "from": "<sip:bob@sip.test>"}


@pytest.fixture
def acme_admin() -> User:
    acme = Customer.objects.create(name="Acme")
    return User.objects.create_user("acme-admin", password="x-Secret-1", customer=acme)


async def ready_socket(user) -> WebsocketCommunicator:
    socket = WebsocketCommunicator(MonitorConsumer.as_asgi(), "/ws/monitor/")
    socket.scope["user"] = user
    connected, _ = await socket.connect()
    assert connected
    assert (await socket.receive_json_from())["type"] == "monitor.ready"
    return socket


async def test_only_matching_events_are_sent_after_a_filter(acme_admin):
    socket = await ready_socket(acme_admin)
    await socket.send_json_to({"type": "filter", "expression": "event transfer and user alice"})
    assert await socket.receive_json_from() == {
        "type": "monitor.filter",
        "expression": "event transfer and user alice",
    }
    for event in (CALL, BOB_CALL, TRANSFER):
        await publish_event(acme_admin.customer_id, event)
    assert await socket.receive_json_from() == TRANSFER
    assert await socket.receive_nothing(timeout=0.2)
    await socket.disconnect()


async def test_a_bad_filter_is_explained_and_the_previous_one_stays(acme_admin):
    socket = await ready_socket(acme_admin)
    await socket.send_json_to({"type": "filter", "expression": "user bob"})
    await socket.receive_json_from()
    await socket.send_json_to({"type": "filter", "expression": "event billing"})
    reply = await socket.receive_json_from()
    assert reply["type"] == "monitor.error"
    assert reply["error"].startswith("Unknown event 'billing'")
    await publish_event(acme_admin.customer_id, CALL)
    await publish_event(acme_admin.customer_id, BOB_CALL)
    assert await socket.receive_json_from() == BOB_CALL
    await socket.disconnect()


async def test_an_empty_filter_shows_everything_again(acme_admin):
    socket = await ready_socket(acme_admin)
    await socket.send_json_to({"type": "filter", "expression": "event transfer"})
    await socket.receive_json_from()
    await socket.send_json_to({"type": "filter", "expression": ""})
    assert await socket.receive_json_from() == {"type": "monitor.filter", "expression": ""}
    await publish_event(acme_admin.customer_id, CALL)
    assert await socket.receive_json_from() == CALL
    await socket.disconnect()


@pytest.mark.parametrize(
    "frame", ["not json", json.dumps(["filter"]), json.dumps({"type": "subscribe"})]
)
async def test_other_messages_get_an_error_naming_the_one_accepted(acme_admin, frame):
    socket = await ready_socket(acme_admin)
    await socket.send_to(text_data=frame)
    reply = await socket.receive_json_from()
    assert reply["type"] == "monitor.error"
    assert '"type": "filter"' in reply["error"]
    await socket.disconnect()


@pytest.fixture
def globex_admin() -> User:
    globex = Customer.objects.create(name="Globex")
    return User.objects.create_user("globex-admin", password="x-Secret-1", customer=globex)


async def test_a_filter_never_widens_the_socket_to_another_customers_events(
    acme_admin, globex_admin
):
    socket = await ready_socket(globex_admin)
    await socket.send_json_to({"type": "filter", "expression": "event call or user alice"})
    await socket.receive_json_from()
    await publish_event(acme_admin.customer_id, CALL)
    await publish_event(acme_admin.customer_id, TRANSFER)
    assert await socket.receive_nothing(timeout=0.2)
    await socket.disconnect()
