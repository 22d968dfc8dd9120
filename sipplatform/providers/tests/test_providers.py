"""Providers: password encrypted at rest, custom headers validated, registration state row."""

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ValidationError
from django.db import connection

from sipplatform.customers.services import create_customer
from sipplatform.providers.models import Provider, ProviderRegistration
from sipplatform.providers.secrets import ProviderSecretError
from sipplatform.providers.services import create_provider, update_registration

SECRET = "trunk-Pa55word!"


@pytest.fixture
def acme(db):
    return create_customer("Acme")


def raw_password_column(provider: Provider) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT password_encrypted FROM {Provider._meta.db_table} WHERE id = %s",
            [provider.pk],
        )
        return cursor.fetchone()[0]


def test_the_password_is_encrypted_at_rest_and_decrypts(acme):
    provider = create_provider(acme, "trunk", "sip:trunk.example.test", password=SECRET)

    stored = raw_password_column(provider)
    assert SECRET not in stored
    assert Provider.objects.get(pk=provider.pk).get_password() == SECRET


def test_rotated_keys_still_decrypt_and_a_lost_key_is_a_clear_error(acme, settings):
    old_key = settings.PROVIDER_SECRETS_KEYS[0]
    provider = create_provider(acme, "trunk", "sip:trunk.example.test", password=SECRET)

    settings.PROVIDER_SECRETS_KEYS = (Fernet.generate_key().decode(), old_key)
    assert Provider.objects.get(pk=provider.pk).get_password() == SECRET

    settings.PROVIDER_SECRETS_KEYS = (Fernet.generate_key().decode(),)
    with pytest.raises(ProviderSecretError, match="PROVIDER_SECRETS_KEY"):
        Provider.objects.get(pk=provider.pk).get_password()


def test_a_provider_without_password_has_none(acme):
    provider = create_provider(acme, "trunk", "sip:trunk.example.test")

    assert not provider.has_password
    assert provider.get_password() == ""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Via: SIP/2.0/UDP evil", "sets Via itself"),
        ("X-Ok: 1\ncall-id: abc", "Line 2: the platform sets call-id"),
        ("m: <sip:x@y>", "sets m itself"),
        ("no colon here", "Line 1 is not"),
        ("Bad Name: v", "Line 1 is not"),
        ("X-Empty:", "Line 1 is not"),
    ],
)
def test_custom_headers_are_validated_line_by_line(acme, text, message):
    with pytest.raises(ValidationError, match=message):
        create_provider(acme, "trunk", "sip:trunk.example.test", custom_headers=text)
    assert not Provider.objects.exists()


def test_custom_headers_parse_into_pairs(acme):
    provider = create_provider(
        acme, "trunk", "sip:trunk.example.test", custom_headers="X-Account: 42\n\nP-Tag: a b\n"
    )

    assert provider.header_pairs() == [("X-Account", "42"), ("P-Tag", "a b")]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "local"}, "name"),
        ({"name": "has space"}, "name"),
        ({"server_uri": "http://trunk"}, "server_uri"),
        ({"register_expiry": 10}, "register_expiry"),
        ({"from_host": "bad host"}, "from_host"),
        ({"outbound_proxy": "proxy.example.test"}, "outbound_proxy"),
    ],
)
def test_bad_fields_are_refused(acme, fields, field):
    values = {"name": "trunk", "server_uri": "sip:trunk.example.test"} | fields
    name, server = values.pop("name"), values.pop("server_uri")

    with pytest.raises(ValidationError) as caught:
        create_provider(acme, name, server, **values)
    assert field in caught.value.message_dict


def test_names_are_unique_per_customer(acme):
    create_provider(acme, "trunk", "sip:a.example.test")
    create_provider(create_customer("Globex"), "trunk", "sip:b.example.test")

    with pytest.raises(ValidationError, match="already exists"):
        create_provider(acme, "trunk", "sip:c.example.test")


def test_registration_state_is_created_and_updated(acme):
    provider = create_provider(acme, "trunk", "sip:trunk.example.test", register=True)

    update_registration(provider.pk, registered=True, last_status=200)

    registration = ProviderRegistration.objects.get(provider=provider)
    assert registration.registered is True
    assert registration.last_status == 200
    assert list(Provider.objects.registering()) == [provider]
