"""SIP account rules: usernames, uniqueness per domain, tenancy of references, transfer policy."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from sipcore.directory import TransferPolicy
from sipplatform.customers.services import create_customer
from sipplatform.dialplans.models import Dialplan
from sipplatform.directory.models import SIPAccount, SIPDomain
from sipplatform.directory.services import create_sip_account

PASSWORD = "Sesame-Open-42"


@pytest.fixture
def acme(db):
    return create_customer("Acme")


@pytest.mark.parametrize("username", ["ab", "x" * 33, "Alice", "al ice", "al@ce", "alíce", ""])
def test_bad_usernames_are_refused_and_nothing_is_saved(acme, username):
    with pytest.raises(ValidationError) as caught:
        create_sip_account(acme, username, password=PASSWORD)
    assert "username" in caught.value.message_dict
    assert not SIPAccount.objects.exists()


@pytest.mark.parametrize("username", ["abc", "x" * 32, "alice.smith_2-b", "100"])
def test_good_usernames_are_accepted(acme, username):
    account, _ = create_sip_account(acme, username, password=PASSWORD)

    assert account.username == username


def test_usernames_are_unique_per_domain(acme):
    other = SIPDomain.objects.create(name="other.example.test")
    create_sip_account(acme, "alice", password=PASSWORD)
    create_sip_account(acme, "alice", password=PASSWORD, domain=other)

    with pytest.raises(ValidationError, match="already exists"):
        create_sip_account(acme, "alice", password=PASSWORD)
    duplicate = SIPAccount(customer=acme, domain=other, username="alice")
    duplicate.set_password(PASSWORD)
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()
    assert SIPAccount.objects.count() == 2


def test_transfer_default_is_checked_by_the_database(acme):
    account, _ = create_sip_account(acme, "alice", password=PASSWORD)

    with pytest.raises(IntegrityError):
        SIPAccount.objects.filter(pk=account.pk).update(transfer_default="yes")


def test_an_account_without_credentials_is_refused_by_the_database(acme):
    domain = SIPDomain.objects.create(name="example.test")

    with pytest.raises(IntegrityError):
        SIPAccount.objects.create(customer=acme, domain=domain, username="nopass")


def test_dialplans_and_domains_of_another_customer_are_refused(acme):
    globex = create_customer("Globex")
    foreign_plan = Dialplan.objects.create(customer=globex, name="default", script="x = 1\n")
    foreign_domain = SIPDomain.objects.create(name="globex.test", customer=globex)

    with pytest.raises(ValidationError) as caught:
        create_sip_account(
            acme, "alice", password=PASSWORD, domain=foreign_domain, outgoing_dialplan=foreign_plan
        )
    assert {"domain", "outgoing_dialplan"} <= caught.value.message_dict.keys()


@pytest.mark.parametrize("networks", [["10.0.0.1/8"], ["nowhere"], "192.0.2.0/24", [24]])
def test_a_bad_ip_allow_list_is_refused(acme, networks):
    with pytest.raises(ValidationError) as caught:
        create_sip_account(acme, "alice", password=PASSWORD, ip_allow_list=networks)
    assert "ip_allow_list" in caught.value.message_dict


def test_ip_allow_list_takes_v4_and_v6_networks(acme):
    create_sip_account(
        acme, "alice", password=PASSWORD, ip_allow_list=["192.0.2.0/24", "2001:db8::/32"]
    )

    assert SIPAccount.objects.get().ip_allow_list == ["192.0.2.0/24", "2001:db8::/32"]


def test_transfer_policy_comes_from_account_then_customer_then_platform(acme):
    account, _ = create_sip_account(acme, "alice", password=PASSWORD)
    assert account.effective_transfer_policy() == TransferPolicy(value="n", source="platform")

    acme.transfer_default = "p"
    assert account.effective_transfer_policy() == TransferPolicy(value="p", source="customer")

    account.transfer_default = "c"
    assert account.effective_transfer_policy() == TransferPolicy(value="c", source="account")


def test_lookup_finds_an_account_by_domain_name_or_alias(acme):
    domain = SIPDomain.objects.create(name="pbx.example.test", aliases=["203.0.113.5"])
    account, _ = create_sip_account(acme, "alice", password=PASSWORD, domain=domain)

    assert SIPAccount.objects.lookup("alice", "PBX.example.test") == account
    assert SIPAccount.objects.lookup("alice", "203.0.113.5") == account
    assert SIPAccount.objects.lookup("alice", "elsewhere.test") is None
    assert SIPAccount.objects.lookup("bob", "pbx.example.test") is None


@pytest.mark.parametrize("name", ["Bad Domain", "-lead.example", "x" * 64 + ".test", "a..b"])
def test_bad_domain_names_and_aliases_are_refused(db, name):
    with pytest.raises(ValidationError):
        SIPDomain(name=name).full_clean()
    with pytest.raises(ValidationError):
        SIPDomain(name="ok.example.test", aliases=[name]).full_clean()


def test_domain_names_and_aliases_are_lowercased(db):
    domain = SIPDomain(name="PBX.Example.Test", aliases=["203.0.113.5", "Alt.Example.Test"])
    domain.full_clean()

    assert (domain.name, domain.aliases) == (
        "pbx.example.test",
        ["203.0.113.5", "alt.example.test"],
    )


def test_deleting_a_customer_deletes_its_accounts(acme):
    account, _ = create_sip_account(acme, "alice", password=PASSWORD)
    deferred = SIPAccount.objects.only("pk").get(pk=account.pk)
    assert deferred.pk == account.pk
    acme.delete()
    assert not SIPAccount.objects.exists()


def test_renaming_a_loaded_account_without_a_new_password_is_refused(acme):
    create_sip_account(acme, "alice", password=PASSWORD)
    loaded = SIPAccount.objects.get(username="alice")
    loaded.username = "alicia"
    with pytest.raises(ValidationError):
        loaded.save()
