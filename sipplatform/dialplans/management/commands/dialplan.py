"""``manage.py dialplan load CUSTOMER NAME FILE``: validated exactly as the portal validates."""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from sipcore.dialplan import validate_source
from sipplatform.customers.cli import find_customer, validation_error
from sipplatform.dialplans.services import save_dialplan


class Command(BaseCommand):
    help = "Load dialplans from files."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        load = actions.add_parser("load", help="Create or replace a customer's dialplan.")
        load.add_argument("customer", help="Customer name or slug.")
        load.add_argument("name", help="Dialplan name ('transfer' is run by blind transfers).")
        load.add_argument("file", type=Path, help="Starlark source file.")
        load.add_argument("--description")

    def handle(
        self, *args: object, customer: str, name: str, file: Path, **options: object
    ) -> None:
        try:
            script = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {file}: {exc}") from None
        problem = validate_source(script)
        if problem is not None:
            raise CommandError(f"{file}:{problem.line}:{problem.column}: {problem.message}")
        owner = find_customer(customer)
        try:
            dialplan, created = save_dialplan(owner, name, script, options["description"])
        except ValidationError as exc:
            raise validation_error(exc) from None
        verb = "created" if created else "replaced"
        self.stdout.write(f"{verb} dialplan {dialplan.name} for {owner}")
