"""Read-only records: registrations, call detail records, transfer audit records, active calls."""

from __future__ import annotations

from django.db import models

from sipplatform.api.filters import (
    BindingFilter,
    CallDetailRecordFilter,
    TransferAuditRecordFilter,
)
from sipplatform.api.pagination import RecordCursorPagination, TransferCursorPagination
from sipplatform.api.serializers.records import (
    BindingSerializer,
    CallDetailRecordSerializer,
    TransferAuditRecordSerializer,
)
from sipplatform.api.views.base import TenantReadOnlyViewSet
from sipplatform.calls.models import CallDetailRecord, TransferAuditRecord
from sipplatform.directory.models import Binding


class RegistrationViewSet(TenantReadOnlyViewSet):
    """Current (unexpired) registrar bindings of the caller's SIP accounts."""

    model = Binding
    queryset = Binding.objects.none()
    select_related = ("account__domain",)
    serializer_class = BindingSerializer
    filterset_class = BindingFilter

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().current()


class CallDetailRecordViewSet(TenantReadOnlyViewSet):
    """Call detail records, newest first, paged by cursor."""

    model = CallDetailRecord
    queryset = CallDetailRecord.objects.none()
    serializer_class = CallDetailRecordSerializer
    filterset_class = CallDetailRecordFilter
    pagination_class = RecordCursorPagination


class ActiveCallViewSet(CallDetailRecordViewSet):
    """Calls in progress: call detail records without a hangup time.

    The SIP worker keeps its live calls in memory and no shared store of them exists yet, so
    the records it has opened and not yet closed are the platform-wide view of active calls.
    A record whose hangup was lost (a worker killed mid-call) stays here until it is closed.
    """

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().filter(hungup_at__isnull=True)


class TransferAuditRecordViewSet(TenantReadOnlyViewSet):
    """Transfer audit records (one per REFER), newest first, paged by cursor."""

    model = TransferAuditRecord
    queryset = TransferAuditRecord.objects.none()
    serializer_class = TransferAuditRecordSerializer
    filterset_class = TransferAuditRecordFilter
    pagination_class = TransferCursorPagination
