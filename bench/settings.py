"""Settings for the benchmark: production settings (DEBUG off, same middleware and templates)
plus a bench-only URLconf that adds the floor view, so no production URL exists for it."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-key-" + "x" * 40)
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,testserver")
# A discarding backend: the pipeline measures our code and the broker, not an SMTP server.
os.environ.setdefault("EMAIL_URL", "dummymail://")
os.environ.setdefault("TITRATE_CLINIC_PHONE", "(617) 555-0100")
# The console SMS backend logs each text at INFO; the bench keeps logs to warnings.
os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")

from clinic.settings import *  # noqa: E402,F403
from clinic.settings import STORAGES  # noqa: E402

ROOT_URLCONF = "bench.urls"
# The bench talks plain HTTP to an in-process handler: no TLS redirect, no collectstatic manifest.
SECURE_SSL_REDIRECT = False
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
