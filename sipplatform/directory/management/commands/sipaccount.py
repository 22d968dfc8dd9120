"""``manage.py sipaccount create CUSTOMER USERNAME ...`` and ``manage.py sipaccount list``."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from sipplatform.customers.cli import find_customer, validation_error
from sipplatform.customers.models import TransferDefault
from sipplatform.directory.models import SIPAccount, SIPDomain
from sipplatform.directory.services import create_sip_account


class Command(BaseCommand):
    help = "Create and list SIP accounts."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Create a SIP account.")
        create.add_argument("customer", help="Customer name or slug.")
        create.add_argument("username", help="3 to 32 of a-z 0-9 _ . -")
        create.add_argument("--password", help="Default: generated and printed once.")
        create.add_argument("--domain", help="SIP domain (default: the platform's SIP_DOMAIN).")
        create.add_argument(
            "--transfer",
            choices=[value for value in TransferDefault.values if value != "inherit"],
            help="Transfer default (default: inherit from the customer).",
        )
        listing = actions.add_parser("list", help="List SIP accounts.")
        listing.add_argument("customer", nargs="?", help="Only this customer's accounts.")

    def handle(self, *args: object, action: str, **options: object) -> None:
        if action == "create":
            self.create(**options)
        else:
            self.list(options["customer"])

    def create(
        self,
        *,
        customer: str,
        username: str,
        password: str | None,
        domain: str | None,
        transfer: str | None,
        **_: object,
    ) -> None:
        owner = find_customer(customer)
        sip_domain = None
        if domain is not None:
            sip_domain = SIPDomain.objects.usable_by(owner).resolve(domain)
            if sip_domain is None:
                raise CommandError(f"no SIP domain {domain!r} available to {owner}")
        try:
            account, password = create_sip_account(
                owner,
                username,
                password=password,
                domain=sip_domain,
                transfer_default=transfer or TransferDefault.INHERIT,
            )
        except ValidationError as exc:
            raise validation_error(exc) from None
        self.stdout.write(f"created SIP account {account.aor} for {owner}")
        self.stdout.write(f"password: {password}")
        self.stdout.write("(shown once: only its digest hashes are stored)")

    def list(self, customer: str | None) -> None:
        accounts = SIPAccount.objects.select_related("customer", "domain")
        if customer is not None:
            accounts = accounts.for_customer(find_customer(customer))
        for account in accounts:
            flags = ",".join(
                flag
                for flag, on in (("disabled", account.disabled), ("in-only", account.incoming_only))
                if on
            )
            self.stdout.write(
                f"{account.aor}\t{account.customer.slug}\ttr={account.transfer_default}\t{flags}"
            )
