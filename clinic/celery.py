"""The Celery app. Settings live in clinic/settings.py under the CELERY_ prefix.

Tasks take ids, load what they need and call a domain function; they are queued
from request code only in ``transaction.on_commit``. Nothing is scheduled with a
far-off ``eta``: reminders are rows in an outbox (see docs/architecture.md).
"""

import os

from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun

from clinic import logs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")

app = Celery("clinic")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The request id travels with each task a request enqueues (clinic/logs.py); weak=False: the
# handlers are module functions, kept alive anyway, and this states it.
before_task_publish.connect(logs.add_to_message, weak=False)
task_prerun.connect(logs.restore_for_task, weak=False)
task_postrun.connect(logs.clear_after_task, weak=False)
