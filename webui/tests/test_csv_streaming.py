"""Under ASGI the CSV export is an async stream that reads the database a chunk at a time."""

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from sipplatform.calls.models import CallDetailRecord
from webui.records import CALL_CSV_COLUMNS, acsv_rows
from webui.tests.test_records import add_calls

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def customer(acme):
    await sync_to_async(add_calls)(acme.customer, 3)
    yield acme.customer
    # The stream read the database on asgiref's shared sync thread: close that connection, or
    # the test database cannot be dropped at the end of the session.
    await sync_to_async(connections.close_all)()


async def test_the_async_stream_yields_chunks_of_lines(customer):
    records = CallDetailRecord.objects.filter(customer=customer).order_by("created_at")
    chunks = [chunk async for chunk in acsv_rows(records, CALL_CSV_COLUMNS, lines_per_chunk=2)]
    assert [chunk.count("\r\n") for chunk in chunks] == [2, 2, 1]
    assert chunks[0].startswith("Created (UTC),Customer,Direction")
    assert await sync_to_async(records.count)() == 4
