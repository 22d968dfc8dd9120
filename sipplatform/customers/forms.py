"""Django's user forms bound to the platform's user model (the admin's add and change pages)."""

from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from sipplatform.customers.models import User


class PlatformUserCreationForm(AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ["username", "role", "customer"]


class PlatformUserChangeForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User
