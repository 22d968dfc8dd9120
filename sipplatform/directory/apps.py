from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    """SIP domains, SIP accounts and registrar bindings."""

    name = "sipplatform.directory"
    verbose_name = "SIP directory"
