from django.contrib import admin

from sipplatform.dialplans.models import DestinationPolicy, Dialplan


@admin.register(Dialplan)
class DialplanAdmin(admin.ModelAdmin):
    list_display = ["name", "customer", "description", "updated_at"]
    list_filter = ["customer"]
    search_fields = ["name", "description", "customer__name"]
    list_select_related = ["customer"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(DestinationPolicy)
class DestinationPolicyAdmin(admin.ModelAdmin):
    list_display = ["__str__", "customer", "denied_prefixes", "allowed_country_codes", "updated_at"]
    list_filter = [("customer", admin.EmptyFieldListFilter)]
    search_fields = ["customer__name", "denied_prefixes", "allowed_country_codes"]
    list_select_related = ["customer"]
