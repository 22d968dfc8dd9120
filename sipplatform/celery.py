"""The Celery application: configured from Django settings under the ``CELERY_`` prefix.

Run a worker with ``celery -A sipplatform worker`` and the scheduler with
``celery -A sipplatform beat``. Without ``REDIS_URL`` the settings make tasks run in-process.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sipplatform.settings")

app = Celery("sipplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
