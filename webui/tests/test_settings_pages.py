"""Transfer defaults and the destination policy: explained, saved whole or not at all."""

import pytest
from django.urls import reverse

from sipplatform.customers.models import Customer
from sipplatform.dialplans.models import DestinationPolicy
from sipplatform.directory.models import SIPAccount


def transfer_data(acme, customer_default="c", account_default="p"):
    return {
        "customer-transfer_default": customer_default,
        "accounts-TOTAL_FORMS": "1",
        "accounts-INITIAL_FORMS": "1",
        "accounts-0-id": acme.account.pk,
        "accounts-0-transfer_default": account_default,
    }


def test_the_transfer_page_explains_n_p_c_and_the_premium_rate_risk(acme_client, acme):
    html = acme_client.get(reverse("webui:transfer-settings")).content.decode()
    for phrase in (
        "transfers disabled (the platform default)",
        "pass the transfer to the other party",
        "the platform places the new call",
        "Premium-rate risk",
        "at your expense",
    ):
        assert phrase in html
    assert "acme-phone@sip.example.test" in html


def test_customer_and_account_defaults_are_saved_together(acme_client, acme):
    response = acme_client.post(reverse("webui:transfer-settings"), transfer_data(acme))
    assert response.status_code == 302
    assert Customer.objects.get(pk=acme.customer.pk).transfer_default == "c"
    account = SIPAccount.objects.get(pk=acme.account.pk)
    assert account.transfer_default == "p"
    assert account.effective_transfer_policy().source == "account"


def test_one_bad_value_saves_nothing(acme_client, acme):
    response = acme_client.post(
        reverse("webui:transfer-settings"), transfer_data(acme, account_default="x")
    )
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert Customer.objects.get(pk=acme.customer.pk).transfer_default == "inherit"


def test_another_customers_account_cannot_be_slipped_into_the_formset(acme_client, acme, globex):
    data = transfer_data(acme) | {"accounts-0-id": globex.account.pk}
    acme_client.post(reverse("webui:transfer-settings"), data)
    assert SIPAccount.objects.get(pk=globex.account.pk).transfer_default == "inherit"


def test_the_policy_is_saved_and_bad_prefixes_are_named(acme_client, acme):
    url = reverse("webui:policy")
    limits = {"max_concurrent_executions": 5, "max_calls_per_minute": 60}
    response = acme_client.post(url, {"denied_prefixes": "44909 +1900", **limits})
    assert response.status_code == 400
    assert "Not number prefixes of 1 to 15 digits: +1900" in response.content.decode()
    response = acme_client.post(
        url, {"denied_prefixes": "44909\n1900", "allowed_country_codes": "44, 1", **limits}
    )
    assert response.status_code == 302
    policy = DestinationPolicy.objects.for_customer(acme.customer).get()
    assert policy.denied_prefixes == ["1900", "44909"]
    assert policy.allowed_country_codes == ["1", "44"]


def test_a_customer_sees_its_limits_but_cannot_change_them(acme_client, acme):
    acme_client.post(
        reverse("webui:policy"), {"max_concurrent_executions": 999, "max_calls_per_minute": 0}
    )
    customer = Customer.objects.get(pk=acme.customer.pk)
    assert (customer.max_concurrent_executions, customer.max_calls_per_minute) == (5, 60)


def test_staff_change_a_customers_limits(staff_client, acme):
    staff_client.post(reverse("webui:switch-customer"), {"customer": acme.customer.pk})
    response = staff_client.post(
        reverse("webui:policy"), {"max_concurrent_executions": 9, "max_calls_per_minute": 30}
    )
    assert response.status_code == 302
    customer = Customer.objects.get(pk=acme.customer.pk)
    assert (customer.max_concurrent_executions, customer.max_calls_per_minute) == (9, 30)


def test_the_number_checker_applies_the_policy(acme_client, acme):
    DestinationPolicy.objects.create(customer=acme.customer, denied_prefixes=["44909"])
    html = acme_client.get(reverse("webui:policy"), {"number": "+44 909 123"}).content.decode()
    assert "denied-prefix" in html
    html = acme_client.get(reverse("webui:policy"), {"number": "+44 20 123"}).content.decode()
    assert '<span class="badge ok">allowed</span>' in html


@pytest.mark.parametrize("name", ["webui:transfer-settings", "webui:policy"])
def test_staff_acting_for_every_customer_are_asked_to_choose_one(staff_client, acme, name):
    response = staff_client.get(reverse(name))
    assert response.status_code == 409
    assert "Choose a customer first" in response.content.decode()
