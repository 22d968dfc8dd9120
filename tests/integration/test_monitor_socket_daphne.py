"""The monitor WebSocket end to end: a real daphne process, channels_redis, a real client.

The test process plays the SIP worker: it publishes through a channels_redis layer on the test
Redis database, configured as settings.py configures it for ``REDIS_URL``; daphne serves
``sipplatform.asgi:application`` on the same Redis and on pytest-django's PostgreSQL test
database, so the browser's session cookie made here is valid there.
"""

import asyncio
import json

import pytest
from channels.layers import get_channel_layer
from django.conf import settings
from django.test import Client, override_settings
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from sipplatform.customers.models import Customer, User
from sipplatform.monitor.events import publish_event
from tests.integration.processes import VENV_BIN, free_port, platform_env, wait_for_port

pytestmark = [pytest.mark.real, pytest.mark.django_db(transaction=True)]

RECEIVE_TIMEOUT = 10


@pytest.fixture
def acme() -> tuple[int, str]:
    return session_cookie_of_new_customer_admin("Acme")


@pytest.fixture
def globex() -> tuple[int, str]:
    return session_cookie_of_new_customer_admin("Globex")


def session_cookie_of_new_customer_admin(customer_name: str) -> tuple[int, str]:
    """Made here, in the main thread: the database is reached from this thread only."""
    customer = Customer.objects.create(name=customer_name)
    User.objects.create_user(f"{customer.slug}-admin", password="x-Secret-1", customer=customer)
    client = Client()
    client.force_login(User.objects.get(customer=customer))
    return customer.pk, client.cookies[settings.SESSION_COOKIE_NAME].value


@pytest.fixture
def daphne_port(spawn, tmp_path, test_redis_url, postgres_database_url) -> int:
    port = free_port()
    env = platform_env(
        DATABASE_URL=postgres_database_url,
        REDIS_URL=test_redis_url,
        SECRET_KEY=settings.SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1",
    )
    daphne = spawn(
        [
            str(VENV_BIN / "daphne"),
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "sipplatform.asgi:application",
        ],
        env,
        log=tmp_path / "daphne.log",
    )
    wait_for_port(port, daphne)
    return port


@pytest.fixture
async def redis_layer(test_redis_url):
    """The channel layer settings.py builds for REDIS_URL, pointed at the test database."""
    layers = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [test_redis_url]},
        }
    }
    with override_settings(CHANNEL_LAYERS=layers):
        yield
        await get_channel_layer().close_pools()


async def open_monitor(port: int, cookie: str | None) -> ClientConnection:
    headers = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={cookie}"} if cookie else {}
    return await connect(
        f"ws://127.0.0.1:{port}/ws/monitor/",
        origin=f"http://127.0.0.1:{port}",
        additional_headers=headers,
        open_timeout=RECEIVE_TIMEOUT,
    )


async def next_event(socket: ClientConnection) -> dict:
    return json.loads(await asyncio.wait_for(socket.recv(), RECEIVE_TIMEOUT))


async def test_a_customers_socket_receives_only_its_own_customers_events(
    daphne_port, redis_layer, acme, globex
):
    (acme_id, acme_cookie), (globex_id, globex_cookie) = acme, globex
    async with (
        await open_monitor(daphne_port, acme_cookie) as acme,
        await open_monitor(daphne_port, globex_cookie) as globex,
    ):
        assert await next_event(acme) == {"type": "monitor.ready", "scope": f"customer.{acme_id}"}
        assert await next_event(globex) == {
            "type": "monitor.ready",
            "scope": f"customer.{globex_id}",
        }
        acme_call = {"type": "call.ringing", "from": "alice", "to": "bob"}
        globex_call = {"type": "call.answered", "from": "carol", "to": "dave"}
        await publish_event(acme_id, acme_call)
        await publish_event(globex_id, globex_call)
        assert await next_event(acme) == acme_call
        # Both events were sent in order: Globex's socket sees its own first, so Acme's never came.
        assert await next_event(globex) == globex_call


async def test_an_anonymous_socket_is_refused(daphne_port, redis_layer):
    async with await open_monitor(daphne_port, cookie=None) as anonymous:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(anonymous.recv(), RECEIVE_TIMEOUT)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401
