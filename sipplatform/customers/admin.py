from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from sipplatform.admin_actions import save_each
from sipplatform.customers.forms import PlatformUserChangeForm, PlatformUserCreationForm
from sipplatform.customers.models import Customer, User


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "suspended",
        "transfer_default",
        "max_concurrent_executions",
        "max_calls_per_minute",
        "created_at",
    ]
    list_filter = ["suspended", "transfer_default", "allow_cross_account_attended_transfer"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    actions = ["suspend", "reactivate"]

    @admin.action(description="Suspend selected customers (calls and registrations refused)")
    def suspend(self, request, queryset) -> None:
        changed = save_each(queryset, suspended=True)
        self.message_user(request, f"{changed} customer(s) suspended.")

    @admin.action(description="Reactivate selected customers")
    def reactivate(self, request, queryset) -> None:
        changed = save_each(queryset, suspended=False)
        self.message_user(request, f"{changed} customer(s) reactivated.")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    add_form = PlatformUserCreationForm
    form = PlatformUserChangeForm
    list_display = ["username", "email", "role", "customer", "is_active", "is_staff", "last_login"]
    list_filter = ["role", "customer", "is_active", "is_staff", "is_superuser"]
    search_fields = ["username", "email", "first_name", "last_name", "customer__name"]
    list_select_related = ["customer"]
    fieldsets = [
        *DjangoUserAdmin.fieldsets,
        ("Platform", {"fields": ["role", "customer"]}),
    ]
    add_fieldsets = [
        *DjangoUserAdmin.add_fieldsets,
        ("Platform", {"fields": ["role", "customer"]}),
    ]
