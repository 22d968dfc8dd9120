"""A SIP ban as the admin shows it. Bans live in the SIP workers' shared store (Redis, or the
embedded process's memory), not in the database: this model has no table (``managed =
False``) and exists so the admin has a page and staff a ``lift_ban`` permission."""

from django.db import models


class Ban(models.Model):
    subject = models.CharField(max_length=300, primary_key=True)
    reason = models.CharField(max_length=40)
    detail = models.CharField(max_length=200, blank=True)
    offence = models.PositiveIntegerField()
    since = models.DateTimeField()
    until = models.DateTimeField()

    class Meta:
        managed = False
        app_label = "security"
        verbose_name = "SIP ban"
        default_permissions = ("view",)
        permissions = [("lift_ban", "Can lift a SIP ban")]

    def __str__(self) -> str:
        return self.subject
