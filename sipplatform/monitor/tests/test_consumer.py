"""The monitor socket, driven in-process through the consumer and the full ASGI app."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.test import Client

from sipplatform.asgi import application
from sipplatform.customers.models import Customer, User
from sipplatform.monitor.consumers import CLOSE_FORBIDDEN, CLOSE_NOT_SIGNED_IN, MonitorConsumer
from sipplatform.monitor.events import publish_event, publish_event_sync, publish_events

pytestmark = pytest.mark.django_db(transaction=True)

RINGING = {"type": "call.ringing", "from": "alice", "to": "bob"}


@pytest.fixture
def acme_admin() -> User:
    acme = Customer.objects.create(name="Acme")
    return User.objects.create_user("acme-admin", password="x-Secret-1", customer=acme)


@pytest.fixture
def globex_admin() -> User:
    globex = Customer.objects.create(name="Globex")
    return User.objects.create_user("globex-admin", password="x-Secret-1", customer=globex)


@pytest.fixture
def staff_user() -> User:
    return User.objects.create_user("ops", password="x-Secret-1", role=User.Role.STAFF)


async def open_socket(user) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(MonitorConsumer.as_asgi(), "/ws/monitor/")
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def test_a_customer_user_receives_its_customers_events(acme_admin):
    socket = await open_socket(acme_admin)
    assert await socket.receive_json_from() == {
        "type": "monitor.ready",
        "scope": f"customer.{acme_admin.customer_id}",
    }
    await publish_event(acme_admin.customer_id, RINGING)
    assert await socket.receive_json_from() == RINGING
    await socket.disconnect()


async def test_a_batch_of_events_arrives_one_by_one_in_order_and_only_to_its_customer(
    acme_admin, globex_admin
):
    acme, globex = await open_socket(acme_admin), await open_socket(globex_admin)
    await acme.receive_json_from()
    await globex.receive_json_from()
    answered = {"type": "call.answered", "from": "alice", "to": "bob"}
    other = {"type": "call.new", "from": "carol", "to": "dave"}
    await publish_events(
        [
            (acme_admin.customer_id, RINGING),
            (globex_admin.customer_id, other),
            (acme_admin.customer_id, answered),
        ]
    )
    assert await acme.receive_json_from() == RINGING
    assert await acme.receive_json_from() == answered
    assert await globex.receive_json_from() == other
    assert await acme.receive_nothing()
    await acme.disconnect()
    await globex.disconnect()


async def test_sync_code_publishes_the_same_way(acme_admin):
    socket = await open_socket(acme_admin)
    await socket.receive_json_from()
    await sync_to_async(publish_event_sync)(acme_admin.customer_id, RINGING)
    assert await socket.receive_json_from() == RINGING
    await socket.disconnect()


async def test_another_customers_user_receives_nothing(acme_admin, globex_admin):
    socket = await open_socket(globex_admin)
    await socket.receive_json_from()
    await publish_event(acme_admin.customer_id, RINGING)
    assert await socket.receive_nothing(timeout=0.2)
    await socket.disconnect()


async def test_staff_receive_every_customers_events_and_platform_events(acme_admin, staff_user):
    socket = await open_socket(staff_user)
    assert (await socket.receive_json_from())["scope"] == "staff"
    await publish_event(acme_admin.customer_id, RINGING)
    assert await socket.receive_json_from() == RINGING
    probe = {"type": "security.ban", "address": "192.0.2.9"}
    await publish_event(None, probe)
    assert await socket.receive_json_from() == probe
    await socket.disconnect()


async def test_platform_events_do_not_reach_customers(acme_admin):
    socket = await open_socket(acme_admin)
    await socket.receive_json_from()
    await publish_event(None, {"type": "security.ban", "address": "192.0.2.9"})
    assert await socket.receive_nothing(timeout=0.2)
    await socket.disconnect()


async def test_an_anonymous_socket_is_closed_with_4401():
    socket = await open_socket(AnonymousUser())
    assert await socket.receive_output() == {"type": "websocket.close", "code": CLOSE_NOT_SIGNED_IN}


async def test_a_user_with_no_customer_is_closed_with_4403():
    orphan = User(username="orphan", role=User.Role.CUSTOMER_ADMIN)
    socket = await open_socket(orphan)
    assert await socket.receive_output() == {"type": "websocket.close", "code": CLOSE_FORBIDDEN}


async def test_a_message_from_the_browser_gets_an_error_and_the_socket_stays_open(acme_admin):
    socket = await open_socket(acme_admin)
    await socket.receive_json_from()
    await socket.send_to(bytes_data=b"\xff\x00")
    assert (await socket.receive_json_from())["type"] == "monitor.error"
    await publish_event(acme_admin.customer_id, RINGING)
    assert await socket.receive_json_from() == RINGING
    await socket.disconnect()


@pytest.fixture
def acme_cookie(acme_admin) -> str:
    """The portal session cookie of Acme's admin (made in the main thread, like the users)."""
    client = Client()
    client.force_login(acme_admin)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


async def test_the_asgi_app_authenticates_the_socket_by_the_portal_session(acme_admin, acme_cookie):
    socket = WebsocketCommunicator(
        application,
        "/ws/monitor/",
        headers=[
            (b"host", b"127.0.0.1:8000"),
            (b"origin", b"http://127.0.0.1:8000"),
            (b"cookie", f"{settings.SESSION_COOKIE_NAME}={acme_cookie}".encode()),
        ],
    )
    connected, _ = await socket.connect()
    assert connected
    assert (await socket.receive_json_from())["scope"] == f"customer.{acme_admin.customer_id}"
    await publish_event(acme_admin.customer_id, RINGING)
    assert await socket.receive_json_from() == RINGING
    await socket.disconnect()


async def test_the_asgi_app_refuses_a_socket_opened_by_a_foreign_page(acme_cookie):
    socket = WebsocketCommunicator(
        application,
        "/ws/monitor/",
        headers=[
            (b"origin", b"https://evil.example"),
            (b"cookie", f"{settings.SESSION_COOKIE_NAME}={acme_cookie}".encode()),
        ],
    )
    connected, _ = await socket.connect()
    assert not connected
