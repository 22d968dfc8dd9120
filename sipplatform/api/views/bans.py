"""The SIP workers' current bans, for platform staff: list, read one, lift one.

Bans live in the workers' shared store (Redis, or this process's memory when the platform
runs embedded), not in the database, so this is a plain ``ViewSet`` over
``sipplatform.security.services`` with its schema declared explicitly. A ban is addressed
by its subject key (``source:203.0.113.9``, ``account:alice@example.com``). When the store
cannot be reached the answer is ``503`` in the usual error shape, never a half-known list.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import redis
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from sipcore.security import Ban, Subject
from sipplatform.api.pagination import ObjectPagination
from sipplatform.api.permissions import IsPlatformStaff
from sipplatform.api.serializers.bans import BanSerializer
from sipplatform.api.serializers.errors import ErrorSerializer
from sipplatform.security import services

log = logging.getLogger(__name__)

T = TypeVar("T")

SUBJECT_KEY = OpenApiParameter(
    "subject_key",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    pattern=r"^(source|account):[^/]+$",
    description="The banned subject: ``source:<address>`` or ``account:<user>@<realm>``.",
)
STORE_DOWN = {503: ErrorSerializer}


class BanStoreUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The SIP workers' ban store cannot be reached; try again shortly."
    default_code = "ban_store_unavailable"


def _from_store(action: Callable[[], T]) -> T:
    """Run a store call; the store being down (Redis refusing, timing out) becomes a 503."""
    try:
        return action()
    except redis.RedisError as error:
        log.warning("the SIP ban store cannot be reached", exc_info=error)
        raise BanStoreUnavailable() from error


def _subject(key: str) -> Subject:
    """The subject ``key`` names, or a 400 naming the expected forms."""
    try:
        return Subject.from_key(key)
    except ValueError:
        raise ValidationError(
            {"subject_key": ["Not a subject key: use source:<address> or account:<user>@<realm>."]}
        ) from None


def _current_ban(subject: Subject) -> Ban | None:
    """The ban of ``subject`` in force now, if any."""
    return next((ban for ban in _from_store(services.current_bans) if ban.subject == subject), None)


class BanViewSet(viewsets.ViewSet):
    """Sources and accounts the SIP workers keep out now. Platform staff only; a customer's
    token is refused (403), as on ``/customers/``. Bans end by themselves at ``until``."""

    permission_classes = [IsPlatformStaff]
    pagination_class = ObjectPagination
    lookup_field = "subject_key"
    lookup_value_regex = "[^/]+"

    @extend_schema(responses={200: BanSerializer(many=True), **STORE_DOWN})
    def list(self, request: Request) -> Response:
        """The bans in force now, longest-lasting first."""
        bans = _from_store(services.current_bans)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(bans, request, view=self)
        return paginator.get_paginated_response(BanSerializer(page, many=True).data)

    @extend_schema(parameters=[SUBJECT_KEY], responses={200: BanSerializer, **STORE_DOWN})
    def retrieve(self, request: Request, subject_key: str) -> Response:
        """The ban of one subject; 404 when it is not banned (or its ban has ended)."""
        subject = _subject(subject_key)
        ban = _current_ban(subject)
        if ban is None:
            raise NotFound(f"{subject.key} is not banned.")
        return Response(BanSerializer(ban).data)

    @extend_schema(parameters=[SUBJECT_KEY], responses={204: None, **STORE_DOWN})
    def destroy(self, request: Request, subject_key: str) -> Response:
        """Lift the ban on every worker (within their refresh interval, about a second) and
        tell the staff monitor who lifted it; 404 when the subject is not banned."""
        subject = _subject(subject_key)
        by = request.user.get_username()
        lifted = _from_store(lambda: services.lift_ban(subject.key, by=by))
        if lifted is None:
            raise NotFound(f"{subject.key} is not banned.")
        return Response(status=status.HTTP_204_NO_CONTENT)
