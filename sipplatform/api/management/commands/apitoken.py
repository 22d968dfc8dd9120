"""``manage.py apitoken create USERNAME NAME``, ``apitoken list [USERNAME]``,
``apitoken revoke PREFIX``: API tokens for scripts, without the portal."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from sipplatform.api.models import ApiToken
from sipplatform.api.services import create_token, revoke_token, split_token
from sipplatform.customers.cli import validation_error
from sipplatform.customers.models import User


class Command(BaseCommand):
    help = "Create, list and revoke REST API tokens."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Create a token; it is printed once.")
        create.add_argument("username", help="Portal user the token acts for.")
        create.add_argument("name", help="What the token is for.")
        listing = actions.add_parser("list", help="List tokens (never their secrets).")
        listing.add_argument("username", nargs="?")
        revoke = actions.add_parser("revoke", help="Revoke a token by its prefix.")
        revoke.add_argument("prefix", help="The 8 characters after sipk_, or the whole token.")

    def handle(self, *args: object, action: str, **options: str) -> None:
        if action == "create":
            self.create(options["username"], options["name"])
        elif action == "list":
            self.list(options["username"])
        else:
            self.revoke(options["prefix"])

    def create(self, username: str, name: str) -> None:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username!r}")
        try:
            token, clear = create_token(user, name)
        except ValidationError as exc:
            raise validation_error(exc) from None
        self.stdout.write(f"created token {token.name!r} for {user.username}")
        self.stdout.write(f"token (shown only now): {clear}")

    def list(self, username: str | None) -> None:
        tokens = ApiToken.objects.select_related("user")
        if username:
            tokens = tokens.filter(user__username=username)
        for token in tokens:
            state = f"revoked {token.revoked_at:%Y-%m-%d %H:%M}" if token.is_revoked else "active"
            used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
            self.stdout.write(
                f"{token.prefix}\t{token.user.username}\t{token.name}\t{state}\tlast used {used}"
            )

    def revoke(self, reference: str) -> None:
        parts = split_token(reference)
        prefix = parts[0] if parts else reference
        token = ApiToken.objects.filter(prefix=prefix).first()
        if token is None:
            raise CommandError(f"no token with prefix {prefix!r}")
        revoke_token(token)
        self.stdout.write(f"revoked token {token.name!r} ({token.prefix}) of {token.user}")
