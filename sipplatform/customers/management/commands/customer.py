"""``manage.py customer create NAME [--admin USERNAME]`` and ``manage.py customer list``."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from sipplatform.customers.cli import validation_error
from sipplatform.customers.models import Customer
from sipplatform.customers.services import create_customer, create_customer_admin


class Command(BaseCommand):
    help = "Create and list customers (tenants)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Create a customer.")
        create.add_argument("name")
        create.add_argument(
            "--admin",
            metavar="USERNAME",
            help="Also create a portal login for the customer; its password is printed once.",
        )
        actions.add_parser("list", help="List customers.")

    def handle(self, *args: object, action: str, **options: object) -> None:
        if action == "create":
            self.create(options["name"], options["admin"])
        else:
            self.list()

    def create(self, name: str, admin: str | None) -> None:
        try:
            with transaction.atomic():
                customer = create_customer(name)
                if admin:
                    _, password = create_customer_admin(customer, admin)
        except ValidationError as exc:
            raise validation_error(exc) from None
        self.stdout.write(f"created customer {customer.name} (slug {customer.slug})")
        if admin:
            self.stdout.write(f"portal login: {admin}  password: {password}")

    def list(self) -> None:
        customers = Customer.objects.all()
        if not customers:
            raise CommandError(
                "no customers yet (create one with `manage.py customer create NAME`)"
            )
        for customer in customers:
            state = "suspended" if customer.suspended else "active"
            self.stdout.write(f"{customer.slug}\t{customer.name}\t{state}")
