from django.apps import AppConfig


class CustomersConfig(AppConfig):
    """Tenants, their portal users and roles, and their limits."""

    name = "sipplatform.customers"
    verbose_name = "Customers"
