"""SIP bans as the API shows them: ``sipcore.security.Ban`` values read from the workers' store,
not database rows, so the serializer is read-only and maps the dataclass's fields."""

from __future__ import annotations

from datetime import UTC, datetime

from rest_framework import serializers

from sipcore.security import BanReason, SubjectKind


class UnixTimeField(serializers.DateTimeField):
    """A Unix time (the store's seconds) shown as an ISO 8601 date-time in UTC."""

    def to_representation(self, value: float) -> str:
        return super().to_representation(datetime.fromtimestamp(value, UTC))


class BanSerializer(serializers.Serializer):
    subject = serializers.CharField(
        source="subject.key",
        help_text="The subject key, ``source:<address>`` or ``account:<user>@<realm>``; "
        "the id of the ban in ``/bans/{subject_key}/``.",
    )
    kind = serializers.ChoiceField(
        source="subject.kind",
        choices=[kind.value for kind in SubjectKind],
        help_text="source: an address requests come from; account: a SIP account's credentials.",
    )
    value = serializers.CharField(
        source="subject.value", help_text="The address, or the account as user@realm."
    )
    reason = serializers.ChoiceField(choices=[reason.value for reason in BanReason])
    detail = serializers.CharField(help_text="What caused it: a scanner's name, a failure count.")
    offence = serializers.IntegerField(
        help_text="How many times this subject has been banned lately (bans grow with it)."
    )
    since = UnixTimeField()
    until = UnixTimeField(help_text="When the ban ends by itself.")
