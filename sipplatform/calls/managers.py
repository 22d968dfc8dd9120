"""Query methods for call records, shared by the portal's and the REST API's filters."""

from __future__ import annotations

from django.db.models import Q

from sipplatform.customers.managers import TenantQuerySet


class CallDetailRecordQuerySet(TenantQuerySet):
    def answered(self) -> CallDetailRecordQuerySet:
        return self.filter(answered_at__isnull=False)

    def matching_number(self, number: str) -> CallDetailRecordQuerySet:
        """Records whose From, To or dialled destination contains ``number``."""
        return self.filter(
            Q(from_header__icontains=number)
            | Q(to_header__icontains=number)
            | Q(destination__icontains=number)
        )


class TransferAuditRecordQuerySet(TenantQuerySet):
    def matching_number(self, number: str) -> TransferAuditRecordQuerySet:
        """Records whose transferor, transferee, Refer-To or target contains ``number``."""
        return self.filter(
            Q(transferor__icontains=number)
            | Q(transferee__icontains=number)
            | Q(refer_to__icontains=number)
            | Q(target__icontains=number)
        )
