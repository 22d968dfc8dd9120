"""``Authorization: Bearer sipk_…`` authentication with the hashed per-user API tokens."""

from __future__ import annotations

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from sipplatform.api.models import ApiToken
from sipplatform.api.services import authenticate_token
from sipplatform.customers.models import User

KEYWORD = b"bearer"


class BearerTokenAuthentication(BaseAuthentication):
    """Authenticates as the token's user; ``request.auth`` is the ``ApiToken``.

    Requests without a Bearer header fall through to the next class (the portal's session);
    a Bearer header with an unknown, malformed or revoked token is refused outright.
    """

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD:
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("The Authorization header must be 'Bearer <token>'.")
        try:
            clear = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed("The token is not valid.") from None
        token = authenticate_token(clear)
        if token is None:
            raise AuthenticationFailed("The token is not valid, or it was revoked.")
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
