"""The portal in a real browser (Debian's chromium, headless): the tasks a customer does.

Each test signs in as Acme's administrator on a live server and saves a screenshot of the
pages it visits: into docs/screenshots/ for the README when ``UPDATE_SCREENSHOTS=1`` is set,
otherwise into a temporary directory.
"""

from __future__ import annotations

import csv
import importlib
import io
import re
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone
from playwright.sync_api import Page, expect

from sipcore.testing import wait_until
from sipplatform.calls.models import CallDetailRecord, TransferAuditRecord
from sipplatform.customers.models import Customer, User
from sipplatform.dialplans.models import DestinationPolicy, Dialplan
from sipplatform.directory.models import Binding, SIPAccount, SIPDomain
from sipplatform.providers.models import Provider
from sipplatform.providers.services import update_registration
from webui.tests.browser.conftest import screenshot

pytestmark = pytest.mark.real

PASSWORD = "correct-Horse-7"
SEEDED_PREFIXES = importlib.import_module(
    "sipplatform.dialplans.migrations.0002_premium_rate_prefixes"
).PREMIUM_RATE_PREFIXES
BROKEN = 'sys.Log("calling %s" % req.URI.User)\nif sys.Out\n    sys.Dial("${dst}@local")\n'
FIXED = (
    'sys.Log("calling %s" % req.URI.User)\n'
    "if sys.Out:\n"
    '    result = sys.Dial("${dst}@local")\n'
    '    if result != "Answered":\n'
    '        sys.Dial("${dst}@trunk[tr=c]")\n'
    'sys.Respond(480, "Nobody home")\n'
)


@pytest.fixture
def acme(portal, settings) -> Customer:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # A transactional test empties every table, the migration's seed included: put it back.
    DestinationPolicy.objects.update_or_create(
        customer=None, defaults={"denied_prefixes": SEEDED_PREFIXES}
    )
    customer = Customer.objects.create(name="Acme")
    User.objects.create_user("acme-admin", password=PASSWORD, customer=customer)
    domain, _ = SIPDomain.objects.get_or_create(name="sip.example.test")
    plan = Dialplan.objects.create(
        customer=customer,
        name="default",
        description="Outgoing calls",
        script='sys.Dial("${dst}@local")\n',
    )
    now = timezone.now()
    for username in ("alice", "bob"):
        account = SIPAccount(
            customer=customer, domain=domain, username=username, outgoing_dialplan=plan
        )
        account.set_password("phone-secret-1")
        account.save()
        Binding.objects.create(
            account=account,
            contact_uri=f"sip:{username}@192.0.2.10:5062",
            received_host="192.0.2.10",
            received_port=5062,
            transport="udp",
            expires_at=now + timedelta(minutes=30),
            user_agent="baresip 3.20",
            call_id=f"reg-{username}",
            cseq=1,
        )
    alice = SIPAccount.objects.get(username="alice")
    trunk = Provider.objects.create(
        customer=customer, name="trunk", server_uri="sip:trunk.example.net", register=True
    )
    update_registration(trunk.pk, registered=True, expires_at=now + timedelta(hours=1))
    for number in range(30):
        answered = number % 3 != 0
        CallDetailRecord.objects.create(
            leg_id=f"leg-{number}",
            call_id=f"call-{number}",
            direction="out" if number % 2 else "in",
            from_header="<sip:alice@sip.example.test>",
            to_header=f"<sip:{1000 + number}@sip.example.test>",
            created_at=now - timedelta(minutes=number * 7),
            answered_at=now - timedelta(minutes=number * 7) if answered else None,
            duration_seconds=40 + number if answered else None,
            hangup_reason="" if answered else "no answer",
            customer=customer,
            account=alice,
        )
    TransferAuditRecord.objects.create(
        transfer_id="xfer-1",
        requested_at=now - timedelta(minutes=3),
        decided_at=now - timedelta(minutes=3),
        customer=customer,
        account=alice,
        call_id="call-1",
        transferor="<sip:alice@sip.example.test>",
        transferee="<sip:bob@sip.example.test>",
        refer_to="<sip:carol@sip.example.test>",
        target="sip:carol@sip.example.test",
        kind="blind",
        policy="c",
        policy_source="customer",
        decision="processed",
        notify_statuses=[100, 180, 200],
        outcome="completed",
        final_status=200,
        completed_at=now - timedelta(minutes=2),
    )
    return customer


def sign_in(page: Page, portal) -> None:
    page.goto(f"{portal.url}/login/")
    page.get_by_label("Username").fill("acme-admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def replace_editor_text(page: Page, text: str) -> None:
    editor = page.locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    # Typed key by key, CodeMirror would auto-indent after each colon; inserted like a paste,
    # the text arrives exactly as written.
    page.keyboard.insert_text(text)


def test_sign_in_and_create_an_account_whose_password_is_shown_once(page, portal, acme):
    sign_in(page, portal)
    screenshot(page, "dashboard")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "dashboard-phone")
    page.set_viewport_size({"width": 1280, "height": 860})
    page.get_by_role("link", name="Accounts", exact=True).click()
    screenshot(page, "accounts")
    page.get_by_role("link", name="New account").click()
    page.get_by_label("Username").fill("Carol!")
    page.get_by_label("IP allow list").fill("10.0.0.1/8")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("not a network in CIDR form")).to_be_visible()
    expect(page.get_by_label("Username")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "account-form-errors")
    page.get_by_label("IP allow list").fill("10.0.0.0/8")
    page.get_by_label("Username").fill("carol")
    page.get_by_role("button", name="Create account").click()
    expect(
        page.get_by_role("heading", name="Account carol@sip.example.test created")
    ).to_be_visible()
    password = page.locator("#generated-password").inner_text()
    assert len(password) >= 20
    screenshot(page, "account-password-once")
    page.get_by_role("link", name="Done, go to the account").click()
    expect(page.get_by_role("heading", name="carol@sip.example.test")).to_be_visible()
    assert password not in page.content()
    page.goto(f"{portal.url}/accounts/{SIPAccount.objects.get(username='alice').pk}/")
    expect(page.get_by_text("baresip 3.20")).to_be_visible()
    screenshot(page, "account-detail")


def test_the_editor_marks_a_syntax_error_at_its_line_then_saves_and_dry_runs(page, portal, acme):
    sign_in(page, portal)
    page.goto(f"{portal.url}/dialplans/new/")
    expect(page.locator(".cm-editor .cm-lineNumbers")).to_be_visible()
    page.get_by_label("Name").fill("outgoing")
    replace_editor_text(page, BROKEN)
    page.get_by_role("button", name="Save").click()
    marked = page.locator('.cm-line[data-error-line="2"]')
    expect(marked).to_have_text("if sys.Out")
    expect(page.locator(".cm-lint-marker-error")).to_have_count(1)
    expect(page.get_by_text(re.compile(r"Syntax error at line 2, column \d+"))).to_be_visible()
    screenshot(page, "dialplan-syntax-error")

    replace_editor_text(page, FIXED)
    expect(page.locator(".cm-errorLine")).to_have_count(0)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved Acme: outgoing.")).to_be_visible()
    assert Dialplan.objects.get(name="outgoing").script == FIXED

    page.get_by_label("Dial outcomes, in order").fill("NoAnswer, Busy")
    page.get_by_role("button", name="Run").click()
    actions = page.locator("#dry-run-result li")
    expect(actions).not_to_have_count(0)
    expect(page).to_have_url(re.compile(r"/dialplans/\d+/$"))  # htmx swapped the result in
    expect(actions).to_have_count(5)
    expect(actions.nth(0)).to_contain_text("calling 1000")
    expect(actions.nth(1)).to_contain_text("${dst}@local → NoAnswer")
    expect(actions.nth(2)).to_contain_text("${dst}@trunk[tr=c] → Busy")
    expect(actions.nth(3)).to_contain_text("480 Nobody home")
    expect(actions.nth(4)).to_contain_text("responded with 480 Nobody home")
    screenshot(page, "dialplan-editor-dry-run")


def test_setting_transfer_defaults(page, portal, acme):
    sign_in(page, portal)
    page.get_by_role("link", name="Transfers", exact=True).click()
    expect(page.get_by_text("Premium-rate risk")).to_be_visible()
    page.get_by_label("Customer transfer default").select_option("c")
    page.get_by_label("Transfer default of bob@sip.example.test").select_option("n")
    page.get_by_role("button", name="Save transfer defaults").click()
    expect(page.get_by_text("Saved the transfer defaults.")).to_be_visible()
    assert Customer.objects.get(pk=acme.pk).transfer_default == "c"
    bob = SIPAccount.objects.get(username="bob")
    assert bob.effective_transfer_policy().value == "n"
    screenshot(page, "transfer-defaults")
    page.get_by_role("link", name="Policy", exact=True).click()
    page.get_by_label("Number", exact=True).fill("+44 909 8790000")
    page.get_by_role("button", name="Check").click()
    expect(page.get_by_role("status")).to_contain_text("denied-prefix")
    screenshot(page, "destination-policy")
    page.get_by_role("link", name="Providers", exact=True).click()
    trunk = Provider.objects.get()
    cell = page.locator(f"#registration-{trunk.pk}")
    expect(cell).to_have_text(re.compile(r"^\s*registered\s*$"))
    screenshot(page, "providers")
    failing = {"registered": False, "failure_reason": "403 Forbidden"}
    # A locked table (the portal's polling reads it) means "not yet".
    wait_until(
        lambda: update_registration(trunk.pk, **failing) is None, retry_on=(OperationalError,)
    )
    expect(cell).to_contain_text("failing 403 Forbidden", timeout=12_000)


def test_filtering_call_records_and_downloading_the_csv(page, portal, acme):
    sign_in(page, portal)
    page.get_by_role("link", name="Calls", exact=True).click()
    expect(page.get_by_text("Page 1 of 2 (30 records)")).to_be_visible()
    page.get_by_label("Direction").select_option("out")
    page.get_by_label("Outcome").select_option("answered")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(10)
    screenshot(page, "call-records")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download CSV").click()
    download = download_info.value
    assert download.suggested_filename.startswith("calls-")
    lines = list(csv.reader(io.StringIO(download.path().read_text(encoding="utf-8"))))
    assert len(lines) == 11
    assert {line[2] for line in lines[1:]} == {"out"}
    page.get_by_role("link", name="Transfer log").click()
    page.locator("table tbody a").first.click()
    expect(page.get_by_text("Decision: processed")).to_be_visible()
    expect(page.get_by_text("NOTIFY 180")).to_be_visible()
    screenshot(page, "transfer-timeline")


def test_the_monitor_shows_calls_and_transfers_as_they_happen(page, portal, acme):
    sign_in(page, portal)
    page.get_by_role("link", name="Monitor").click()
    expect(page.locator("#monitor-status")).to_have_text("live")
    call = {"call_id": "c-42", "from": "<sip:alice@sip.example.test>", "to": "<sip:bob@x>"}
    portal.publish(acme.pk, {"type": "call.new", **call})
    portal.publish(acme.pk, {"type": "call.ringing", **call})
    row = page.locator('#active-calls tr[data-call-id="c-42"]')
    expect(row).to_have_attribute("data-state", "ringing")
    portal.publish(acme.pk, {"type": "call.answered", **call})
    expect(row).to_have_attribute("data-state", "answered")
    portal.publish(acme.pk, {"type": "transfer.requested", "call_id": "c-42", "refer_to": "carol"})
    expect(row).to_have_attribute("data-state", "transfer requested")
    decided = {"decision": "processed", "policy": "c", "policy_source": "customer"}
    portal.publish(acme.pk, {"type": "transfer.decided", "call_id": "c-42", **decided})
    expect(row).to_have_attribute(
        "data-state", "transfer decided (processed, policy c from customer)"
    )
    portal.publish(acme.pk, {"type": "transfer.progress", "call_id": "c-42", "status": 180})
    expect(row).to_have_attribute("data-state", "transfer progress (180)")
    portal.publish(None, {"type": "call.new", "call_id": "staff-only", "from": "x"})
    screenshot(page, "monitor")
    portal.publish(acme.pk, {"type": "call.ended", "reason": "bye", **call})
    expect(row).to_have_attribute("data-state", "ended")
    expect(page.locator("#event-stream li")).to_have_count(7)
    expect(row).to_have_count(0, timeout=10_000)

    page.get_by_label("Filter").fill("event transfer and user alice")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#monitor-status")).to_have_text("live, filtered")
    portal.publish(acme.pk, {"type": "call.new", "call_id": "c-43", "from": "<sip:alice@x>"})
    transfer = {"type": "transfer.completed", "call_id": "c-43", "transferor": "<sip:alice@x>"}
    portal.publish(acme.pk, transfer)
    expect(page.locator("#event-stream li").first).to_have_attribute(
        "data-type", "transfer.completed"
    )
    expect(page.locator('#event-stream li[data-type="call.new"]')).to_have_count(1)

    page.get_by_label("Filter").fill("ipaddr nowhere")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#filter-error")).to_have_text("'nowhere' is not an IP address or network.")


def test_the_monitor_shows_a_real_call_ring_answer_and_end(page, portal, sip, acme, settings):
    """Two sipcore phones register with the real SIP worker; alice calls bob. The worker's
    events reach the browser through the channel layer, and the call's record is written."""
    domain, _ = SIPDomain.objects.get_or_create(name=sip.domain)
    plan = Dialplan.objects.create(customer=acme, name="local", script='sys.Dial("${dst}@local")\n')
    for username in ("carol", "dave"):
        account = SIPAccount(
            customer=acme, domain=domain, username=username, outgoing_dialplan=plan
        )
        account.set_password("phone-secret-1")
        account.save()
    carol = sip.phone("carol", "phone-secret-1")
    dave = sip.phone("dave", "phone-secret-1")
    dave.mode = "ring"

    sign_in(page, portal)
    page.get_by_role("link", name="Monitor").click()
    expect(page.locator("#monitor-status")).to_have_text("live")

    call = sip.run(carol.call(f"sip:dave@{sip.domain}", wait=False))
    row = page.locator("#active-calls tbody tr")
    expect(row).to_have_attribute("data-state", "ringing")
    expect(row).to_contain_text("carol")
    incoming = sip.run(dave.incoming.get())
    sip.call_on_loop(incoming.answer)
    expect(row).to_have_attribute("data-state", "answered")
    screenshot(page, "monitor-real-call")
    sip.run(call.bye())
    expect(row).to_have_attribute("data-state", "ended")
    expect(page.locator('#event-stream li[data-type="call.ended"]')).to_have_count(1)

    # Both legs' records are written by the worker's records thread after the hangup; wait for
    # them before reading the list (SQLite's shared test database locks a table being written).
    wait_until(
        lambda: CallDetailRecord.objects.filter(hungup_at__isnull=False).count() == 2,
        retry_on=(OperationalError,),
    )
    page.get_by_role("link", name="Calls", exact=True).click()
    page.get_by_label("Number or user").fill("dave")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table tbody tr").first).to_contain_text("answered")


def test_staff_switch_between_customers(page, portal, acme):
    globex = Customer.objects.create(name="Globex")
    Dialplan.objects.create(customer=globex, name="globex-plan", script="x = 1\n")
    User.objects.create_user("ops", password=PASSWORD, role=User.Role.STAFF, is_staff=True)
    page.goto(f"{portal.url}/login/")
    page.get_by_label("Username").fill("ops")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Dialplans", exact=True).click()
    names = page.locator("table tbody tr td:first-child")
    expect(names).to_have_text(["default", "globex-plan"])
    page.get_by_label("Customer", exact=True).select_option(label="Globex")
    page.get_by_role("button", name="Switch").click()
    expect(names).to_have_text(["globex-plan"])
    expect(page).to_have_url(f"{portal.url}/dialplans/")
    screenshot(page, "staff-customer-switcher")


def test_without_javascript_the_editor_is_a_textarea_that_still_saves(chromium, portal, acme):
    context = chromium.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, portal)
        page.goto(f"{portal.url}/dialplans/new/")
        page.get_by_label("Name").fill("plain")
        script = page.locator("textarea#id_script")
        expect(script).to_be_visible()
        script.fill(BROKEN)
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_text(re.compile(r"Syntax error at line 2"))).to_be_visible()
        script.fill(FIXED)
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_text("Saved Acme: plain.")).to_be_visible()
        assert Dialplan.objects.get(name="plain").script == FIXED
    finally:
        context.close()


RECORD_ROW_STATES = """() => {
  window.rowStates = [];
  new MutationObserver(() => {
    for (const row of document.querySelectorAll("#active-calls tbody tr")) {
      if (window.rowStates.at(-1) !== row.dataset.state) window.rowStates.push(row.dataset.state);
    }
  }).observe(document.querySelector("#active-calls tbody"), { childList: true });
}"""


def test_the_monitor_shows_a_real_refused_transfer_inline(page, portal, sip, acme):
    """carol calls dave through the real SIP worker, then REFERs him to erin. carol's account
    refuses transfers (``tr=n``), so the worker answers 603: the call's row steps through the
    transfer's request and its decision (rejected, with the policy and where it came from, the
    decision event carrying the 603), the call ends, and the worker writes the audit record."""
    domain, _ = SIPDomain.objects.get_or_create(name=sip.domain)
    plan = Dialplan.objects.create(customer=acme, name="local", script='sys.Dial("${dst}@local")\n')
    for username in ("carol", "dave", "erin"):
        account = SIPAccount(
            customer=acme, domain=domain, username=username, outgoing_dialplan=plan
        )
        account.set_password("phone-secret-1")
        account.save()
    SIPAccount.objects.filter(username="carol").update(transfer_default="n")
    carol = sip.phone("carol", "phone-secret-1")
    sip.phone("dave", "phone-secret-1")
    sip.phone("erin", "phone-secret-1")

    sign_in(page, portal)
    page.get_by_role("link", name="Monitor").click()
    expect(page.locator("#monitor-status")).to_have_text("live")
    page.evaluate(RECORD_ROW_STATES)

    call = sip.run(carol.call(f"sip:dave@{sip.domain}"))
    row = page.locator("#active-calls tbody tr")
    expect(row).to_have_attribute("data-state", "answered")
    refer_to = [("Refer-To", f"<sip:erin@{sip.domain}>")]
    refused = sip.run(call.request("REFER", headers=refer_to))
    assert refused.status == 603, refused
    expect(row).to_have_attribute(
        "data-state", "transfer decided (rejected, policy n from account)"
    )
    expect(row).to_contain_text("carol")
    assert [s for s in page.evaluate("window.rowStates") if s.startswith("transfer")] == [
        "transfer requested",
        "transfer decided (rejected, policy n from account)",
    ]
    decided = page.locator('#event-stream li[data-type="transfer.decided"]')
    expect(decided).to_contain_text("status=603")
    screenshot(page, "monitor-real-transfer")
    sip.run(call.bye())
    expect(row).to_have_attribute("data-state", "ended")

    wait_until(
        lambda: TransferAuditRecord.objects.filter(outcome="rejected", final_status=603).exists(),
        retry_on=(OperationalError,),
    )
    page.get_by_role("link", name="Transfer log").click()
    record = page.locator("table tbody tr").first
    expect(record).to_contain_text(f"erin@{sip.domain}")
    expect(record).to_contain_text("n account")
    expect(record).to_contain_text("Rejected 603")
