from django.apps import AppConfig


class SecurityConfig(AppConfig):
    """SIP scanner and brute-force defence: the bans' admin list and the defence's settings."""

    name = "sipplatform.security"
    label = "security"
    verbose_name = "SIP security"
