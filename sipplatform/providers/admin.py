from django.contrib import admin

from sipplatform.providers.forms import ProviderForm
from sipplatform.providers.models import Provider, ProviderRegistration


class ProviderRegistrationInline(admin.StackedInline):
    model = ProviderRegistration
    can_delete = False
    readonly_fields = [
        "registered",
        "last_attempt_at",
        "next_attempt_at",
        "expires_at",
        "last_status",
        "failure_reason",
        "worker_id",
    ]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    form = ProviderForm
    list_display = ["name", "customer", "server_uri", "username", "register", "has_password"]
    list_filter = ["register", "customer"]
    search_fields = ["name", "server_uri", "username", "customer__name"]
    list_select_related = ["customer"]
    inlines = [ProviderRegistrationInline]

    @admin.display(boolean=True, description="password set")
    def has_password(self, provider: Provider) -> bool:
        return provider.has_password


@admin.register(ProviderRegistration)
class ProviderRegistrationAdmin(admin.ModelAdmin):
    list_display = [
        "provider",
        "registered",
        "last_status",
        "last_attempt_at",
        "next_attempt_at",
        "expires_at",
        "failure_reason",
    ]
    list_filter = ["registered", "provider__customer"]
    search_fields = ["provider__name", "provider__customer__name", "failure_reason"]
    list_select_related = ["provider__customer"]
    readonly_fields = ProviderRegistrationInline.readonly_fields

    def has_add_permission(self, request) -> bool:
        return False
