"""Housekeeping run by Celery beat."""

from celery import shared_task

from sipplatform.directory import services


@shared_task(acks_late=True)
def purge_stale_bindings() -> int:
    return services.purge_stale_bindings()
