from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The REST provisioning API and the per-user API tokens it authenticates with."""

    name = "sipplatform.api"
    label = "api"
    verbose_name = "Provisioning API"

    def ready(self) -> None:
        # drf-spectacular finds extensions by subclass registration: import them once.
        from sipplatform.api import schema  # noqa: F401
