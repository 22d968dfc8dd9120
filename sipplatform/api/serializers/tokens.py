"""API tokens as the API lists them: never the secret, only the prefix that identifies one."""

from __future__ import annotations

from rest_framework import serializers

from sipplatform.api.models import ApiToken


class ApiTokenSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username", read_only=True)
    revoked = serializers.BooleanField(source="is_revoked", read_only=True)

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "prefix",
            "user",
            "created_at",
            "last_used_at",
            "revoked",
            "revoked_at",
        ]
        read_only_fields = fields
