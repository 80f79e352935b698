"""Settings for the test suite: production settings with fast, deterministic parts.

DATABASE_URL and REDIS_URL still come from the environment, so CI tests on
PostgreSQL and Redis exactly as production runs.
"""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-" + "x" * 40)
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("EMAIL_URL", "memorymail://")
os.environ.setdefault("TITRATE_CLINIC_PHONE", "(617) 555-0100")

from clinic.settings import *  # noqa: E402,F403
from clinic.settings import REDIS_URL, STORAGES  # noqa: E402

# The tests seed the demo clinic and sign in as its people; the production refusals are tested with
# this setting off (tests/clinic/test_seed_demo_refusal.py) and under DJANGO_DEBUG=false in a subprocess.
TITRATE_DEMO_ALLOWED = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SECURE_SSL_REDIRECT = False
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
# pytest-xdist runs the suite in worker processes "gw0", "gw1", ...: pytest-django gives each its
# own test database, and each gets its own cache keys and Celery queue here. Subprocesses the tests
# start (the e2e Celery worker) inherit PYTEST_XDIST_WORKER and so use their worker's.
_TEST_RUN = "titrate-test" + (f"-{_worker}" if (_worker := os.environ.get("PYTEST_XDIST_WORKER")) else "")
if REDIS_URL:
    # Tests clear their cache between cases; clearing deletes this run's keys only, never the whole
    # Redis database (tests/redis_cache.py), so other workers, the broker's queues and a developer's
    # running portal on the same database keep theirs.
    # Composed as in production: Redis, and the database cache while Redis does not answer.
    CACHES = {
        **CACHES,  # noqa: F405
        "redis": {
            **CACHES["redis"],  # noqa: F405
            "BACKEND": "tests.redis_cache.PrefixClearedRedisCache",
            "KEY_PREFIX": _TEST_RUN,
        },
        "database": {**CACHES["database"], "KEY_PREFIX": _TEST_RUN},  # noqa: F405
    }
    # A Celery worker a test starts (tests/e2e, test_celery.py) takes only its own run's tasks, and
    # purging the queue before it starts purges only them.
    CELERY_TASK_DEFAULT_QUEUE = _TEST_RUN
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Tests name dates with timezone.localdate() and their users live in the clinic's zone (the
# default): the two calendars must agree, or every "today" is "tomorrow" for the five hours after
# midnight UTC. Production keeps UTC; views always work in the viewer's own zone.
from clinic.settings import TITRATE_DEFAULT_TIME_ZONE  # noqa: E402

TIME_ZONE = TITRATE_DEFAULT_TIME_ZONE

# A throwaway OpenID Connect signing key, so the SMART launch tests get an id_token (fhirUser).
if not OAUTH2_PROVIDER.get("OIDC_ENABLED"):  # noqa: F405
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    _key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    OAUTH2_PROVIDER = {  # noqa: F405
        **OAUTH2_PROVIDER,  # noqa: F405
        "OIDC_ENABLED": True,
        "OIDC_RSA_PRIVATE_KEY": _key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        "OIDC_ISS_ENDPOINT": TITRATE_BASE_URL.rstrip("/"),  # noqa: F405
    }
