"""Saving a customer's settings pages: transfer defaults and the destination policy."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.forms import BaseModelFormSet

from sipcore.directory import TransferPolicy
from sipplatform.customers.models import Customer
from sipplatform.dialplans.models import DestinationPolicy
from sipplatform.directory.models import SIPAccount
from webui.forms.settings import CustomerLimitsForm, CustomerTransferForm, DestinationPolicyForm


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountPolicy:
    account: SIPAccount
    policy: TransferPolicy


def effective_policies(accounts: list[SIPAccount]) -> list[AccountPolicy]:
    """What each account's calls get when no dial-string ``tr`` option applies, and why."""
    return [
        AccountPolicy(account=account, policy=account.effective_transfer_policy())
        for account in accounts
    ]


@transaction.atomic
def save_transfer_defaults(customer_form: CustomerTransferForm, accounts: BaseModelFormSet) -> None:
    """Both forms or neither: the caller has validated them."""
    customer_form.save()
    accounts.save()


def policy_of(customer: Customer) -> DestinationPolicy:
    """The customer's own policy row, unsaved and empty when it has none yet."""
    return DestinationPolicy.objects.for_customer(customer).first() or DestinationPolicy(
        customer=customer
    )


@transaction.atomic
def save_policy(policy_form: DestinationPolicyForm, limits_form: CustomerLimitsForm) -> None:
    policy_form.save()
    if limits_form.has_changed():
        limits_form.save()
