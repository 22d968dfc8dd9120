"""Paging: limit/offset for configuration objects, cursors for the ever-growing call records."""

from __future__ import annotations

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination, LimitOffsetPagination
from rest_framework.request import Request


class ObjectPagination(LimitOffsetPagination):
    """``limit``/``offset``, as SIPSorcery's provisioning API paged its objects."""

    default_limit = 50
    max_limit = 500
    max_offset = 2**31 - 1

    def get_offset(self, request: Request) -> int:
        """Capped: an offset past any real list is simply past the end, never a database
        overflow."""
        return min(super().get_offset(request), self.max_offset)


class RecordCursorPagination(CursorPagination):
    """Newest first; a cursor stays correct while new records keep arriving, unlike an offset."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-created_at"

    def decode_cursor(self, request: Request) -> Cursor | None:
        """A mangled cursor is a bad query parameter (400), not a missing resource (DRF's 404)."""
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError(
                {self.cursor_query_param: ["Invalid cursor: use the next or previous link."]},
                code="invalid_cursor",
            ) from None


class TransferCursorPagination(RecordCursorPagination):
    ordering = "-requested_at"
