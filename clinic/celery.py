"""The Celery app. Settings live in clinic/settings.py under the CELERY_ prefix.

Tasks take ids, load what they need and call a domain function; they are queued
from request code only in ``transaction.on_commit``. Nothing is scheduled with a
far-off ``eta``: reminders are rows in an outbox (see docs/architecture.md).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")

app = Celery("clinic")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
