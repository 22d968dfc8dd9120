from django.apps import AppConfig


class SipWorkerConfig(AppConfig):
    name = "sipplatform.sipworker"
    label = "sipworker"
    verbose_name = "SIP worker"

    def ready(self) -> None:
        from sipplatform.sipworker.changes import connect_signals

        connect_signals()
