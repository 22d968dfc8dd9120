"""Roles, customers and their database guards."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError

from sipplatform.customers.models import Customer, User
from sipplatform.customers.services import create_customer


def test_a_customer_admin_needs_a_customer_and_staff_have_none(db):
    with pytest.raises(ValidationError, match="needs a customer"):
        User(username="orphan", role=User.Role.CUSTOMER_ADMIN).full_clean()
    customer = create_customer("Acme")
    with pytest.raises(ValidationError, match="belong to no customer"):
        User(username="x", role=User.Role.STAFF, customer=customer).full_clean()


def test_the_database_refuses_a_role_that_contradicts_the_customer(db):
    with pytest.raises(IntegrityError):
        User.objects.create(username="orphan", role=User.Role.CUSTOMER_ADMIN)


def test_superusers_are_platform_staff(db, fast_hashers):
    call_command("createsuperuser", "--noinput", username="root", email="root@example.test")

    root = User.objects.get(username="root")
    assert root.role == User.Role.STAFF
    assert root.is_platform_staff is True


def test_customer_transfer_default_is_checked_by_the_database(db):
    customer = create_customer("Acme")

    with pytest.raises(IntegrityError):
        Customer.objects.filter(pk=customer.pk).update(transfer_default="x")


def test_inherit_means_the_platform_default_n(db):
    customer = create_customer("Acme")

    assert customer.transfer_default == "inherit"
    assert customer.effective_transfer_default() == "n"


def test_a_customer_name_must_have_a_letter_or_digit(db):
    with pytest.raises(ValidationError, match="at least one letter"):
        create_customer("!!!")
    assert not Customer.objects.exists()
