"""Destination policy: premium ranges pre-filled, platform and customer rules combined."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from sipcore.policy import Verdict
from sipplatform.customers.services import create_customer
from sipplatform.dialplans.models import DestinationPolicy
from sipplatform.dialplans.services import judge_destination


@pytest.fixture
def acme(db):
    return create_customer("Acme")


def test_the_platform_row_is_prefilled_with_premium_rate_ranges(db):
    denied = set(DestinationPolicy.objects.platform().denied_prefixes)

    assert {"0909", "0906", "0871", "44909", "44906", "1900", "1976", "61190", "881"} <= denied


@pytest.mark.parametrize(
    "number", ["+44 909 876 5432", "0044909876543", "09098765432", "+1 900 555 0100", "+8816"]
)
def test_premium_numbers_are_denied_for_every_customer(acme, number):
    decision = judge_destination(acme, number)

    assert decision.verdict is Verdict.DENIED_PREFIX
    assert decision.refusal_status == 403


def test_ordinary_numbers_and_names_are_allowed(acme):
    assert judge_destination(acme, "+442071234567").allowed
    assert judge_destination(acme, "alice").allowed


def test_customer_prefixes_add_to_the_platforms(acme):
    globex = create_customer("Globex")
    DestinationPolicy.objects.create(customer=acme, denied_prefixes=["4420"])

    assert judge_destination(acme, "+442071234567").verdict is Verdict.DENIED_PREFIX
    assert judge_destination(globex, "+442071234567").allowed


def test_the_customer_allow_list_replaces_the_platforms(acme):
    platform = DestinationPolicy.objects.platform()
    platform.allowed_country_codes = ["44", "33"]
    platform.save()
    DestinationPolicy.objects.create(customer=acme, allowed_country_codes=["33"])

    assert judge_destination(acme, "+442071234567").verdict is Verdict.COUNTRY_NOT_ALLOWED
    assert judge_destination(acme, "+33142345678").allowed
    assert judge_destination(None, "+442071234567").allowed


def test_there_is_one_policy_row_per_customer_and_one_platform_row(acme):
    DestinationPolicy.objects.create(customer=acme)

    with pytest.raises(IntegrityError):
        DestinationPolicy.objects.create(customer=None)


def test_customer_rows_are_unique_too(acme):
    DestinationPolicy.objects.create(customer=acme)

    with pytest.raises(IntegrityError):
        DestinationPolicy.objects.create(customer=acme)


def test_bad_prefix_lists_are_refused(acme):
    policy = DestinationPolicy(customer=acme, denied_prefixes=["+44909", "abc"])

    with pytest.raises(ValidationError, match="Not number prefixes"):
        policy.full_clean()
