"""Template filters of the portal."""

from datetime import timedelta

from django import template

register = template.Library()


@register.filter
def duration(value: timedelta | None) -> str:
    """A plain duration: ``15 minutes``, ``1 hour 30 minutes``, ``45 seconds``."""
    if not isinstance(value, timedelta):
        return ""
    seconds = max(0, round(value.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [
        f"{amount} {unit}{'' if amount == 1 else 's'}"
        for amount, unit in ((hours, "hour"), (minutes, "minute"), (seconds, "second"))
        if amount
    ]
    return " ".join(parts) or "0 seconds"
