from django.apps import AppConfig


class MonitorConfig(AppConfig):
    name = "sipplatform.monitor"
    label = "monitor"
    verbose_name = "Live call monitor"
