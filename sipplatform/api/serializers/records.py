"""Read-only views of what the SIP worker recorded: bindings, calls, transfers."""

from __future__ import annotations

from rest_framework import serializers

from sipplatform.calls.models import CallDetailRecord, TransferAuditRecord
from sipplatform.directory.models import Binding


class BindingSerializer(serializers.ModelSerializer):
    account_aor = serializers.CharField(source="account.aor", read_only=True)

    class Meta:
        model = Binding
        fields = [
            "id",
            "account",
            "account_aor",
            "contact_uri",
            "received_host",
            "received_port",
            "transport",
            "expires_at",
            "user_agent",
            "instance_id",
            "call_id",
            "cseq",
            "updated_at",
        ]
        read_only_fields = fields


class CallDetailRecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = CallDetailRecord
        fields = [
            "id",
            "customer",
            "direction",
            "from_header",
            "to_header",
            "destination",
            "account",
            "provider",
            "call_id",
            "bridged_call_id",
            "local_socket",
            "remote_socket",
            "created_at",
            "progress_status",
            "progress_at",
            "answered_status",
            "answered_at",
            "duration_seconds",
            "hungup_at",
            "hangup_reason",
        ]
        read_only_fields = fields


class TransferAuditRecordSerializer(serializers.ModelSerializer):
    related_call_ids = serializers.ListField(child=serializers.CharField(), read_only=True)
    notify_statuses = serializers.ListField(child=serializers.IntegerField(), read_only=True)

    class Meta:
        model = TransferAuditRecord
        fields = [
            "id",
            "transfer_id",
            "customer",
            "account",
            "requested_at",
            "call_id",
            "related_call_ids",
            "transferor",
            "transferee",
            "refer_to",
            "replaces",
            "referred_by",
            "kind",
            "policy",
            "policy_source",
            "decision",
            "reason",
            "target",
            "notify_statuses",
            "outcome",
            "final_status",
            "decided_at",
            "completed_at",
            "decision_ms",
            "duration_ms",
        ]
        read_only_fields = fields
