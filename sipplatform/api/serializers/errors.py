"""The error body every API error has (see ``sipplatform.api.exceptions``), for the schema."""

from __future__ import annotations

from rest_framework import serializers


class FieldErrorSerializer(serializers.Serializer):
    message = serializers.CharField()
    code = serializers.CharField()
    line = serializers.IntegerField(
        required=False, help_text="For a dialplan syntax error: the line of the problem."
    )
    column = serializers.IntegerField(
        required=False, help_text="For a dialplan syntax error: the column of the problem."
    )


class ErrorSerializer(serializers.Serializer):
    """The body of every error response."""

    # Built in get_fields: a declared attribute named "fields" would hide Serializer.fields.
    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            "status": serializers.IntegerField(help_text="The HTTP status, repeated."),
            "code": serializers.CharField(help_text="Machine-readable reason: invalid, ..."),
            "message": serializers.CharField(),
            "fields": serializers.DictField(
                child=FieldErrorSerializer(many=True),
                help_text="Messages per field; non_field_errors for the object as a whole.",
            ),
        }
