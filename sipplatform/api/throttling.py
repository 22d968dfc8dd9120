"""One request rate per API token (per user for the portal's session, per address otherwise)."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from sipplatform.api.models import ApiToken


class TokenRateThrottle(SimpleRateThrottle):
    """Counts requests in the ``api`` scope keyed on the token, so two scripts of one customer
    with two tokens each get the full rate, and a revoked-then-replaced token starts afresh."""

    scope = "api"

    def get_rate(self) -> str | None:
        # Read at request time, not import time, so settings overrides take effect.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request: Request, view: Any) -> str:
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"address-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
