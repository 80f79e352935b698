"""Settings for the chaos and load harness: production settings (DEBUG off) with the short
timings of reference §4.5, so a lost message is recovered in seconds rather than minutes.

Only the harness uses this module (DJANGO_SETTINGS_MODULE=chaos.settings); it talks plain HTTP on
loopback, so the cookie and redirect rules meant for TLS are relaxed here and nowhere else.
"""

import os

from clinic.settings import *  # noqa: F403
from clinic.settings import CELERY_BROKER_TRANSPORT_OPTIONS, STORAGES

# Loopback HTTP: no TLS in front of gunicorn.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
# No collectstatic step: serve from the source folders through the plain storage.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
# The production rate limits stay on (issue 18): every virtual user signs in from 127.0.0.1, and
# only failed sign-ins spend the per-address budget, so correct ones are never throttled.
# The harness seeds and logs in dozens of users on two cores: a cheap hash keeps set-up to seconds
# (the figures are about the portal, not PBKDF2). Production keeps Django's default hashers.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# Staff sessions would expire mid-run otherwise on a slow machine.
TITRATE_IDLE_MINUTES_STAFF = 120

# Reference §4.5 test profile: lease 20 s, visibility timeout 30 s, task limit well inside the lease.
TITRATE_NOTIFICATION_LEASE_SECONDS = int(os.environ.get("CHAOS_LEASE_SECONDS", "20"))
TITRATE_NOTIFICATION_RETRY_BASE_SECONDS = int(os.environ.get("CHAOS_RETRY_BASE_SECONDS", "2"))
TITRATE_NOTIFICATION_MAX_ATTEMPTS = int(os.environ.get("CHAOS_MAX_ATTEMPTS", "6"))
CELERY_TASK_SOFT_TIME_LIMIT = 10
CELERY_TASK_TIME_LIMIT = 15
CELERY_BROKER_TRANSPORT_OPTIONS = {**CELERY_BROKER_TRANSPORT_OPTIONS, "visibility_timeout": 30}
# A publish while Redis is down must fail fast, not hang the request (docs/reminders.md).
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_TRANSPORT_OPTIONS.setdefault("max_retries", 1)
# Health checks (clinic/health.py) on the harness's short clock: beat's heartbeat runs every 2 s
# (chaos.world.configure_beat), so a stopped beat shows within seconds (scenarios H1-H3).
TITRATE_HEALTH_BEAT_MAX_AGE_SECONDS = int(os.environ.get("CHAOS_BEAT_MAX_AGE_SECONDS", "10"))
TITRATE_HEALTH_OUTBOX_MAX_AGE_SECONDS = int(os.environ.get("CHAOS_OUTBOX_MAX_AGE_SECONDS", "120"))
