"""Settings for the test suite: production settings with fast, deterministic parts.

DATABASE_URL and REDIS_URL still come from the environment, so CI tests on
PostgreSQL and Redis exactly as production runs.
"""

import os
from urllib.parse import urlsplit, urlunsplit

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-" + "x" * 40)
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("EMAIL_URL", "memorymail://")

from clinic.settings import *  # noqa: E402,F403
from clinic.settings import CACHES, REDIS_URL, STORAGES  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SECURE_SSL_REDIRECT = False
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
if REDIS_URL:
    # Tests flush their cache between cases (FLUSHDB): give them their own
    # Redis database so a developer's running portal keeps its sessions.
    _parts = urlsplit(REDIS_URL)
    CACHES = {"default": {**CACHES["default"], "LOCATION": urlunsplit(_parts._replace(path="/15"))}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Tests name dates with timezone.localdate() and their users live in the clinic's zone (the
# default): the two calendars must agree, or every "today" is "tomorrow" for the five hours after
# midnight UTC. Production keeps UTC; views always work in the viewer's own zone.
from clinic.settings import TITRATE_DEFAULT_TIME_ZONE  # noqa: E402

TIME_ZONE = TITRATE_DEFAULT_TIME_ZONE
