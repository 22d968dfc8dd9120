"""Call and transfer records: filters, pagination, a streamed CSV, the transfer timeline."""

import csv
import io
from datetime import timedelta

from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone

from sipplatform.calls.models import CallDetailRecord


def add_calls(customer, count, **fields):
    now = timezone.now()
    for number in range(count):
        CallDetailRecord.objects.create(
            leg_id=f"bulk-{customer.pk}-{number}-{fields.get('direction', 'in')}",
            call_id=f"bulk-{number}",
            direction="in",
            created_at=now - timedelta(hours=1, seconds=number),
            customer=customer,
            to_header=f"<sip:{2000 + number}@sip.example.test>",
            **fields,
        )


def csv_of(response) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="')
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_calls_are_filtered_by_direction_outcome_account_and_number(acme_client, acme):
    add_calls(acme.customer, 3)
    url = reverse("webui:calls")
    assert len(acme_client.get(url).context["records"]) == 4
    assert len(acme_client.get(url, {"direction": "out"}).context["records"]) == 1
    assert len(acme_client.get(url, {"outcome": "unanswered"}).context["records"]) == 3
    assert len(acme_client.get(url, {"account": acme.account.pk}).context["records"]) == 1
    assert len(acme_client.get(url, {"number": "2001"}).context["records"]) == 1


def test_calls_are_filtered_by_date(acme_client, acme):
    url = reverse("webui:calls")
    today = timezone.now().date()
    assert len(acme_client.get(url, {"date_from": today}).context["records"]) == 1
    tomorrow = today + timedelta(days=1)
    assert len(acme_client.get(url, {"date_from": tomorrow}).context["records"]) == 0


def test_a_reversed_date_range_is_an_inline_error(acme_client, acme):
    response = acme_client.get(
        reverse("webui:calls"), {"date_from": "2026-02-02", "date_to": "2026-02-01"}
    )
    assert response.status_code == 400
    assert "The end date is before the start date." in response.content.decode()


def test_calls_are_paginated_keeping_the_filter(acme_client, acme):
    add_calls(acme.customer, 30)
    response = acme_client.get(reverse("webui:calls"), {"direction": "in"})
    assert response.context["page"].paginator.num_pages == 2
    assert 'href="?direction=in&amp;page=2"' in response.content.decode()
    second = acme_client.get(reverse("webui:calls"), {"direction": "in", "page": 2})
    assert len(second.context["records"]) == 5


def test_the_csv_export_streams_the_filtered_records(acme_client, acme):
    add_calls(acme.customer, 2, from_header="=HYPERLINK(evil)")
    rows = csv_of(acme_client.get(reverse("webui:calls"), {"direction": "in", "format": "csv"}))
    assert rows[0][:3] == ["Created (UTC)", "Customer", "Direction"]
    assert len(rows) == 3
    assert {row[2] for row in rows[1:]} == {"in"}
    assert rows[1][5] == "'=HYPERLINK(evil)"


def test_transfers_are_listed_filtered_and_exported(acme_client, acme):
    url = reverse("webui:transfers")
    html = acme_client.get(url).content.decode()
    assert reverse("webui:transfer-detail", args=[acme.transfer.pk]) in html
    assert len(acme_client.get(url, {"outcome": "failed"}).context["records"]) == 0
    assert len(acme_client.get(url, {"number": "acme-target"}).context["records"]) == 1
    rows = csv_of(acme_client.get(url, {"format": "csv"}))
    assert rows[1][rows[0].index("NOTIFY statuses")] == "100 180 200"


def test_the_transfer_timeline_shows_refer_decision_notifies_and_outcome(acme_client, acme):
    response = acme_client.get(reverse("webui:transfer-detail", args=[acme.transfer.pk]))
    titles = [step.title for step in response.context["timeline"]]
    assert titles == [
        "Blind REFER from <sip:acme-phone@sip.example.test>",
        "Decision: processed",
        "NOTIFY 100",
        "NOTIFY 180",
        "NOTIFY 200",
        "Outcome: completed",
    ]
    html = response.content.decode()
    assert "Policy c from the customer default" in html
    assert "sipfrag SIP/2.0 180 Ringing" in html
