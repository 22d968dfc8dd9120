"""The username django-axes counts sign-in failures under (``AXES_USERNAME_CALLABLE``).

Axes stores the typed username in ``AccessAttempt.username``, a 255-character column, before
Django has refused anything: the stock ``AuthenticationForm`` only sets an HTML ``maxlength``
on the field, so a 1 MB username, or one holding a NUL (which PostgreSQL text cannot hold),
reached the database and failed the sign-in page with a 500. The name is kept as typed up to
the column's size, with NUL shown as U+FFFD; guesses at such names still count and lock out.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

USERNAME_COLUMN = 255
"""``axes.models.AccessAttempt.username``'s ``max_length``."""


def axes_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """The sign-in attempt's username, storable as it is."""
    if credentials:
        username = credentials.get("username")
    else:
        username = getattr(request, "data", request.POST).get("username")
    if username is None:
        return None
    return str(username).replace("\x00", "\ufffd")[:USERNAME_COLUMN]
