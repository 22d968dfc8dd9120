"""The hosted SIP platform's Django project.

Importing the package loads the Celery app so that ``@shared_task`` functions bind to it in
every process (web, SIP worker, Celery worker).
"""

from sipplatform.celery import app as celery_app

__all__ = ("celery_app",)
