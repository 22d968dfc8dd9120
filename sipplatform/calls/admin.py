"""Call records are history written by the SIP worker: the admin shows them read-only."""

from django.contrib import admin

from sipplatform.calls.models import CallDetailRecord, TransferAuditRecord


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CallDetailRecord)
class CallDetailRecordAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "direction",
        "customer",
        "from_header",
        "destination",
        "answered_status",
        "duration_seconds",
        "hangup_reason",
    ]
    list_filter = ["direction", "customer", "answered_status"]
    search_fields = ["call_id", "leg_id", "from_header", "to_header", "destination"]
    list_select_related = ["customer"]
    date_hierarchy = "created_at"


@admin.register(TransferAuditRecord)
class TransferAuditRecordAdmin(ReadOnlyAdmin):
    list_display = [
        "requested_at",
        "customer",
        "kind",
        "policy",
        "policy_source",
        "decision",
        "target",
        "outcome",
        "final_status",
    ]
    list_filter = ["kind", "policy", "decision", "outcome", "customer"]
    search_fields = ["transfer_id", "call_id", "refer_to", "transferor", "transferee", "target"]
    list_select_related = ["customer"]
    date_hierarchy = "requested_at"
