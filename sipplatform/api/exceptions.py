"""Every API error in one JSON shape (documented in the schema as ``Error``)::

    {"status": 400, "code": "invalid", "message": "Some fields are not valid.",
     "fields": {"script": [{"message": "Syntax error at line 2, column 5: ...",
                            "code": "syntax_error", "line": 2, "column": 5}]}}

``fields`` maps a field name (``non_field_errors`` for the object as a whole, ``ip_allow_list.1``
for an item) to its messages; it is empty for errors that concern no field. Model validation
(``full_clean`` in services and serializers) raises Django's ``ValidationError``; it is rendered
here with the same shape, keeping the ``line``/``column`` a dialplan syntax error carries.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler, set_rollback

logger = logging.getLogger(__name__)

LOCATION_PARAMS = ("line", "column")
INVALID_MESSAGE = "Some fields are not valid."


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "Other records still refer to this object."
    default_code = "conflict"


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's handler (headers, rollback), then the body rewritten to one shape. An unexpected
    exception is logged with its traceback and answered 500 in the same shape, so clients
    parse every error alike."""
    if isinstance(exc, DjangoValidationError):
        set_rollback()
        return _error_response(
            status.HTTP_400_BAD_REQUEST, "invalid", INVALID_MESSAGE, _django_fields(exc)
        )
    if isinstance(exc, ProtectedError | RestrictedError):
        exc = Conflict()
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        logger.error("Unhandled error in the API", exc_info=exc)
        set_rollback()
        return _error_response(
            status.HTTP_500_INTERNAL_SERVER_ERROR, "server_error", "Internal server error.", {}
        )
    response = exception_handler(exc, context)
    if isinstance(exc.detail, dict | list):
        body = _body(response.status_code, "invalid", INVALID_MESSAGE, _drf_fields(exc.detail))
    else:
        code = getattr(exc.detail, "code", None) or exc.default_code
        body = _body(response.status_code, str(code), str(exc.detail), {})
    response.data = body
    return response


def _error_response(status_code: int, code: str, message: str, fields: dict) -> Response:
    return Response(_body(status_code, code, message, fields), status=status_code)


def _body(status_code: int, code: str, message: str, fields: dict) -> dict[str, Any]:
    return {"status": status_code, "code": code, "message": message, "fields": fields}


def _field_name(name: str) -> str:
    return api_settings.NON_FIELD_ERRORS_KEY if name == NON_FIELD_ERRORS else name


def _django_fields(exc: DjangoValidationError) -> dict[str, list[dict[str, Any]]]:
    errors = exc.error_dict if hasattr(exc, "error_dict") else {NON_FIELD_ERRORS: exc.error_list}
    fields: dict[str, list[dict[str, Any]]] = {}
    for name, error_list in errors.items():
        fields[_field_name(name)] = [_django_item(error) for error in error_list]
    return fields


def _django_item(error: DjangoValidationError) -> dict[str, Any]:
    params = error.params or {}
    message = error.message % params if params else error.message
    item: dict[str, Any] = {"message": str(message), "code": error.code or "invalid"}
    item.update({key: params[key] for key in LOCATION_PARAMS if isinstance(params.get(key), int)})
    return item


def _drf_fields(detail: dict | list) -> dict[str, list[dict[str, Any]]]:
    fields: dict[str, list[dict[str, Any]]] = {}
    for path, error in _walk(detail, ""):
        fields.setdefault(path or api_settings.NON_FIELD_ERRORS_KEY, []).append(
            {"message": str(error), "code": str(getattr(error, "code", None) or "invalid")}
        )
    return fields


def _walk(detail: Any, path: str) -> Iterator[tuple[str, Any]]:
    """``(dotted path, ErrorDetail)`` for each message in DRF's nested error structure."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            yield from _walk(value, f"{path}.{key}" if path else _field_name(str(key)))
    elif isinstance(detail, list):
        for value in detail:
            yield from _walk(value, path)
    else:
        yield path, detail
