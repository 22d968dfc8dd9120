"""``manage.py provider create CUSTOMER NAME --server URI [--username U --password P]``."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandParser

from sipplatform.customers.cli import find_customer, validation_error
from sipplatform.providers.services import create_provider


class Command(BaseCommand):
    help = "Create providers (a customer's SIP trunks)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Create a provider.")
        create.add_argument("customer", help="Customer name or slug.")
        create.add_argument("name", help="Name used in dial strings: user@NAME.")
        create.add_argument("--server", required=True, help="sip: URI of the provider.")
        create.add_argument("--username", default="")
        create.add_argument("--auth-username", default="")
        create.add_argument("--password", default="")
        create.add_argument("--outbound-proxy", default="")
        create.add_argument("--register", action="store_true", help="Register to the provider.")

    def handle(self, *args: object, **options: object) -> None:
        owner = find_customer(options["customer"])
        try:
            provider = create_provider(
                owner,
                options["name"],
                options["server"],
                password=options["password"],
                username=options["username"],
                auth_username=options["auth_username"],
                outbound_proxy=options["outbound_proxy"],
                register=options["register"],
            )
        except ValidationError as exc:
            raise validation_error(exc) from None
        registering = ", registering" if provider.register else ""
        self.stdout.write(f"created provider {provider.name} for {owner}{registering}")
