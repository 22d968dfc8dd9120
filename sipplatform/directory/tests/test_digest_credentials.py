"""SIP account credentials: HA1s match the RFC worked examples; the password is never stored."""

import hashlib

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from sipplatform.customers.services import create_customer
from sipplatform.directory.models import SIPAccount, SIPDomain
from sipplatform.directory.services import create_sip_account


def credentials_for(username: str, realm: str, password: str) -> SIPAccount:
    account = SIPAccount(username=username, domain=SIPDomain(name=realm))
    account.set_password(password)
    return account


def test_md5_ha1_matches_rfc_2617_section_3_5():
    account = credentials_for("Mufasa", "testrealm@host.com", "Circle Of Life")

    assert account.ha1_md5 == "939e7578ed9e3c518a452acee763bce9"


def rfc_7616_response(ha1: str, algorithm) -> str:
    """RFC 7616 §3.9.1: GET /dir/index.html, qop=auth, nc=00000001."""

    def h(text: str) -> str:
        return algorithm(text.encode()).hexdigest()

    nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
    cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
    ha2 = h("GET:/dir/index.html")
    return h(f"{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}")


def test_both_ha1s_reproduce_the_rfc_7616_section_3_9_1_responses():
    account = credentials_for("Mufasa", "http-auth@example.org", "Circle of Life")

    assert rfc_7616_response(account.ha1_for("SHA-256"), hashlib.sha256) == (
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    )
    assert rfc_7616_response(account.ha1_for("MD5"), hashlib.md5) == (
        "8ca523f5e9506fed4657c9700eebdbec"
    )


def test_the_clear_password_is_in_no_column_of_the_row(db):
    customer = create_customer("Acme")
    account, password = create_sip_account(customer, "alice", password="Sesame-Open-42")

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {SIPAccount._meta.db_table} WHERE id = %s", [account.pk])
        row = cursor.fetchone()
    assert password == "Sesame-Open-42"
    assert all(password not in str(value) for value in row)
    assert password not in repr(vars(SIPAccount.objects.get(pk=account.pk)))


def test_a_generated_password_is_returned_once_and_works(db):
    customer = create_customer("Acme")
    account, password = create_sip_account(customer, "alice")

    realm = account.domain.name
    assert len(password) >= 16
    assert account.ha1_md5 == hashlib.md5(f"alice:{realm}:{password}".encode()).hexdigest()


@pytest.mark.parametrize("password", ["short", "x" * 129, "tab\tinside-it"])
def test_unusable_passwords_are_refused(db, password):
    customer = create_customer("Acme")

    with pytest.raises(ValidationError) as caught:
        create_sip_account(customer, "alice", password=password)
    assert "password" in caught.value.message_dict
    assert not SIPAccount.objects.exists()


def test_changing_the_username_needs_a_new_password(db):
    customer = create_customer("Acme")
    account, _ = create_sip_account(customer, "alice", password="Sesame-Open-42")
    account = SIPAccount.objects.get(pk=account.pk)

    account.username = "alicia"
    with pytest.raises(ValidationError, match="set a new password"):
        account.full_clean()
    with pytest.raises(ValidationError):
        account.save()

    account.set_password("Sesame-Open-43")
    account.full_clean()
    account.save()
    assert SIPAccount.objects.get(pk=account.pk).username == "alicia"


def test_a_domain_with_accounts_cannot_be_renamed(db):
    customer = create_customer("Acme")
    account, _ = create_sip_account(customer, "alice", password="Sesame-Open-42")
    domain = SIPDomain.objects.get(pk=account.domain_id)

    domain.name = "renamed.example.test"
    with pytest.raises(ValidationError, match="digest realm"):
        domain.full_clean()
