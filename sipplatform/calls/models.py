"""Call detail records and transfer audit records: append-only history written by Celery.

Each record has a natural key from the SIP worker (``leg_id``, ``transfer_id``) so a retried or
duplicated task updates the one row instead of adding a second.
"""

from __future__ import annotations

from django.db import models

from sipplatform.calls.managers import CallDetailRecordQuerySet, TransferAuditRecordQuerySet
from sipplatform.customers.models import Customer
from sipplatform.directory.models import SIPAccount, TransferPolicySource
from sipplatform.providers.models import Provider


class CallDetailRecord(models.Model):
    """One call leg as the B2BUA saw it, from creation to hangup."""

    class Direction(models.TextChoices):
        IN = "in", "Incoming"
        OUT = "out", "Outgoing"

    leg_id = models.CharField(
        max_length=128, unique=True, help_text="The worker's id of this leg: the idempotency key."
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, null=True, blank=True, related_name="call_records"
    )
    direction = models.CharField(max_length=3, choices=Direction.choices)
    from_header = models.CharField(max_length=1024, blank=True)
    to_header = models.CharField(max_length=1024, blank=True)
    destination = models.CharField(
        "dialled destination", max_length=1024, blank=True, help_text="What the dialplan dialled."
    )
    account = models.ForeignKey(
        SIPAccount, on_delete=models.SET_NULL, null=True, blank=True, related_name="call_records"
    )
    provider = models.ForeignKey(
        Provider, on_delete=models.SET_NULL, null=True, blank=True, related_name="call_records"
    )
    call_id = models.CharField("Call-ID", max_length=255, db_index=True)
    bridged_call_id = models.CharField(
        "bridged Call-ID", max_length=255, blank=True, help_text="Call-ID of the other leg."
    )
    local_socket = models.CharField(max_length=80, blank=True, help_text="udp:203.0.113.1:5060")
    remote_socket = models.CharField(max_length=80, blank=True)
    created_at = models.DateTimeField()
    progress_status = models.PositiveSmallIntegerField(null=True, blank=True)
    progress_at = models.DateTimeField(null=True, blank=True)
    answered_status = models.PositiveSmallIntegerField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    hungup_at = models.DateTimeField(null=True, blank=True)
    hangup_reason = models.CharField(max_length=255, blank=True)
    worker_id = models.CharField(max_length=64, blank=True)

    objects = CallDetailRecordQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "call detail record"
        indexes = [models.Index(fields=["customer", "-created_at"], name="cdr_customer_created")]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.call_id} at {self.created_at:%Y-%m-%d %H:%M}"


class TransferAuditRecord(models.Model):
    """One REFER and everything decided and sent because of it (TRANSFER.md, "Audit")."""

    class Kind(models.TextChoices):
        BLIND = "blind", "Blind"
        ATTENDED = "attended", "Attended"
        SEMI_ATTENDED = "semi_attended", "Semi-attended"

    class Policy(models.TextChoices):
        DISABLED = "n", "n"
        PASS_THROUGH = "p", "p"
        PLACE_CALL = "c", "c"

    class Decision(models.TextChoices):
        REJECTED = "rejected", "Rejected"
        PASSED_THROUGH = "passed_through", "Passed through"
        PROCESSED = "processed", "Processed"

    class Outcome(models.TextChoices):
        PENDING = "pending", "Pending"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        REJECTED = "rejected", "Rejected"

    transfer_id = models.CharField(
        max_length=128, unique=True, help_text="The worker's id of this REFER: the idempotency key."
    )
    requested_at = models.DateTimeField()
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, null=True, blank=True, related_name="transfer_records"
    )
    account = models.ForeignKey(
        SIPAccount,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="transfer_records",
        help_text="The transferor's account.",
    )
    call_id = models.CharField("Call-ID of the REFER's dialogue", max_length=255, db_index=True)
    related_call_ids = models.JSONField(
        default=list, blank=True, help_text="Call-IDs of the other dialogues involved."
    )
    transferor = models.CharField(max_length=1024, blank=True)
    transferee = models.CharField(max_length=1024, blank=True)
    refer_to = models.TextField("raw Refer-To")
    replaces = models.TextField(blank=True)
    referred_by = models.TextField(blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    policy = models.CharField(max_length=1, choices=Policy.choices)
    policy_source = models.CharField(max_length=10, choices=TransferPolicySource.choices)
    decision = models.CharField(max_length=16, choices=Decision.choices)
    reason = models.CharField(max_length=255, blank=True, help_text="Why, for a rejection.")
    target = models.CharField("normalised target", max_length=1024, blank=True)
    notify_statuses = models.JSONField(
        default=list, blank=True, help_text="Status codes of every NOTIFY sipfrag sent, in order."
    )
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.PENDING)
    final_status = models.PositiveSmallIntegerField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    decision_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="From REFER received to decision."
    )
    duration_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="From REFER received to final outcome."
    )
    worker_id = models.CharField(max_length=64, blank=True)

    objects = TransferAuditRecordQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at"]
        indexes = [
            models.Index(fields=["customer", "-requested_at"], name="transfer_customer_requested")
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_kind_display()} transfer {self.transfer_id}: {self.get_outcome_display()}"
        )
