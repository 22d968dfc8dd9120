"""The demo tenant runplatform seeds, and the credentials file that makes a restart reuse it."""

import pytest

from sipcore.auth import ha1
from sipplatform.customers.models import Customer, User
from sipplatform.dialplans.models import Dialplan
from sipplatform.directory.models import SIPAccount
from webui.demo import DemoCredentials, ensure_demo

pytestmark = pytest.mark.django_db


def test_an_empty_database_gets_the_demo_and_the_passwords_are_kept_private(tmp_path):
    path = tmp_path / "demo-credentials.json"
    state = ensure_demo(path)
    assert state.created
    credentials = state.credentials
    assert DemoCredentials.from_json(path.read_text()) == credentials
    assert path.stat().st_mode & 0o777 == 0o600

    user = User.objects.get(username=credentials.portal_username)
    assert user.check_password(credentials.portal_password)
    assert user.customer.name == credentials.customer
    assert user.role == User.Role.CUSTOMER_ADMIN

    assert [phone.username for phone in credentials.phones] == ["alice", "bob"]
    for phone in credentials.phones:
        account = SIPAccount.objects.get(username=phone.username, domain__name=phone.domain)
        assert account.ha1_md5 == ha1(phone.username, phone.domain, phone.password)
        assert account.outgoing_dialplan.name == "default"
    assert set(Dialplan.objects.for_customer(user.customer).values_list("name", flat=True)) == {
        "default",
        "transfer",
    }


def test_a_second_start_reuses_the_demo(tmp_path):
    path = tmp_path / "demo-credentials.json"
    first = ensure_demo(path)
    second = ensure_demo(path)
    assert not second.created
    assert second.credentials == first.credentials
    assert Customer.objects.count() == 1


def test_credentials_that_no_longer_sign_in_are_not_printed(tmp_path):
    path = tmp_path / "demo-credentials.json"
    user = User.objects.get(username=ensure_demo(path).credentials.portal_username)
    user.set_password("changed-by-the-owner-9")
    user.save()
    state = ensure_demo(path)
    assert state.credentials is None
    assert "no longer opens this database's portal" in state.note


def test_a_database_with_customers_but_no_file_is_left_alone(tmp_path):
    Customer.objects.create(name="Production tenant")
    state = ensure_demo(tmp_path / "demo-credentials.json")
    assert state.credentials is None
    assert not state.created
    assert "no demo credentials are kept" in state.note
    assert Customer.objects.count() == 1


def test_nothing_is_seeded_when_the_credentials_cannot_be_kept(tmp_path):
    occupied = tmp_path / "demo-credentials.json"
    occupied.mkdir()
    with pytest.raises(OSError):
        ensure_demo(occupied)
    assert not Customer.objects.exists()
    assert not SIPAccount.objects.exists()
