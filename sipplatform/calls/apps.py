from django.apps import AppConfig


class CallsConfig(AppConfig):
    """Call detail records and transfer audit records, written by Celery tasks."""

    name = "sipplatform.calls"
    verbose_name = "Call records"
