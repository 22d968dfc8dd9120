"""SIP domains, read-only: where a new account can live."""

from __future__ import annotations

from rest_framework import serializers

from sipplatform.directory.models import SIPDomain


class SIPDomainSerializer(serializers.ModelSerializer):
    aliases = serializers.ListField(child=serializers.CharField(), read_only=True)
    platform_wide = serializers.SerializerMethodField()

    class Meta:
        model = SIPDomain
        fields = ["id", "name", "aliases", "customer", "platform_wide"]
        read_only_fields = fields

    def get_platform_wide(self, domain: SIPDomain) -> bool:
        return domain.customer_id is None
