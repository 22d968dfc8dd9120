"""Per-user API tokens: shown once when created, stored only as a SHA-256 hash.

A token reads ``sipk_<prefix>_<secret>``. The eight-character prefix is stored in clear so a
token can be found (and recognised in a list) without its secret; the whole token is stored as
its SHA-256 hex digest. The secret carries 256 random bits, so a fast hash is enough: there is
nothing to brute-force, unlike a person's password.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from sipplatform.api.managers import ApiTokenQuerySet


class ApiToken(models.Model):
    """A bearer token acting for ``user`` with exactly that user's reach (customer or staff)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What the token is for (a script, a host).")
    prefix = models.CharField(max_length=8, unique=True, editable=False)
    secret_hash = models.CharField("SHA-256 of the token", max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} (sipk_{self.prefix}_…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None
