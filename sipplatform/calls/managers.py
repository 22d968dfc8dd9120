"""Query methods for call records."""

from __future__ import annotations

from sipplatform.customers.managers import TenantQuerySet


class CallDetailRecordQuerySet(TenantQuerySet):
    def answered(self) -> CallDetailRecordQuerySet:
        return self.filter(answered_at__isnull=False)


class TransferAuditRecordQuerySet(TenantQuerySet):
    pass
