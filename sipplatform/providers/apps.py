from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    """Customers' SIP trunks and their outbound registration state."""

    name = "sipplatform.providers"
    verbose_name = "Providers"
