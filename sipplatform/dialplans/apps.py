from django.apps import AppConfig


class DialplansConfig(AppConfig):
    """Starlark dialplans, transfer defaults and the destination (toll-fraud) policy."""

    name = "sipplatform.dialplans"
    verbose_name = "Dialplans and policy"
