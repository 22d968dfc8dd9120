from django.contrib import admin

from sipplatform.admin_actions import save_each
from sipplatform.directory.forms import SIPAccountForm
from sipplatform.directory.models import Binding, SIPAccount, SIPDomain


@admin.register(SIPDomain)
class SIPDomainAdmin(admin.ModelAdmin):
    list_display = ["name", "customer", "aliases"]
    list_filter = [("customer", admin.EmptyFieldListFilter), "customer"]
    search_fields = ["name", "aliases", "customer__name"]


@admin.register(SIPAccount)
class SIPAccountAdmin(admin.ModelAdmin):
    form = SIPAccountForm
    list_display = [
        "username",
        "domain",
        "customer",
        "disabled",
        "incoming_only",
        "transfer_default",
        "max_concurrent_calls",
        "password_changed_at",
    ]
    list_filter = ["disabled", "incoming_only", "transfer_default", "domain", "customer"]
    search_fields = ["username", "domain__name", "customer__name"]
    list_select_related = ["domain", "customer"]
    readonly_fields = ["ha1_md5", "ha1_sha256", "created_at", "password_changed_at"]
    actions = ["disable", "enable"]

    @admin.action(description="Disable selected SIP accounts")
    def disable(self, request, queryset) -> None:
        changed = save_each(queryset, disabled=True)
        self.message_user(request, f"{changed} SIP account(s) disabled.")

    @admin.action(description="Enable selected SIP accounts")
    def enable(self, request, queryset) -> None:
        changed = save_each(queryset, disabled=False)
        self.message_user(request, f"{changed} SIP account(s) enabled.")


@admin.register(Binding)
class BindingAdmin(admin.ModelAdmin):
    list_display = [
        "account",
        "contact_uri",
        "received_host",
        "received_port",
        "transport",
        "expires_at",
        "user_agent",
        "worker_id",
    ]
    list_filter = ["transport", "account__customer"]
    search_fields = ["account__username", "contact_uri", "received_host", "user_agent", "call_id"]
    list_select_related = ["account__domain"]
