"""Issue 18, item 3: with Redis down, sign-in keeps working and keeps its rate limits; the default
cache answers from the database instead (clinic/cache.py). Chaos scenarios F2/F3 check the same on
the real stack, with the production rate limits (docs/reliability.md)."""

from __future__ import annotations

import pytest
from django.core.cache import cache, caches
from django.db import connection
from django.urls import reverse
from django.utils.module_loading import import_string

from clinic import cache as failover
from clinic.models import AuditEvent
from tests.factories import DEMO_LIKE_PASSWORD
from tests.helpers import log_in, require_service

pytestmark = pytest.mark.django_db

# Nothing listens on port 1: the connection is refused at once.
DEAD_REDIS = "redis://127.0.0.1:1/0"
TOO_MANY = b"Too many failed login attempts. Try again later."


@pytest.fixture(autouse=True)
def _fresh_failover_state():
    failover._down_until.clear()
    yield
    failover._down_until.clear()


@pytest.fixture
def redis_down(settings):
    """Every Redis cache of the configuration pointed at a port where nothing answers."""
    require_service("REDIS_URL", bool(settings.REDIS_URL))
    from django.core.cache.backends.redis import RedisCache

    dead = {}
    for alias, config in settings.CACHES.items():
        if issubclass(import_string(config["BACKEND"]), RedisCache):
            config = {**config, "LOCATION": DEAD_REDIS}
        dead[alias] = config
    settings.CACHES = dead
    yield
    caches["database"].clear()


def post_login(client, email, password):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def test_a_new_sign_in_works_while_redis_is_down(client, patient, redis_down):
    client.raise_request_exception = False

    response = post_login(client, patient.user.email, DEMO_LIKE_PASSWORD)

    assert response.status_code == 302
    assert client.get(reverse("patient_home")).status_code == 200
    assert AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN, actor=patient.user).exists()


def test_staff_sign_in_with_totp_works_while_redis_is_down(client, psychiatrist, redis_down):
    log_in(client, psychiatrist)  # password, then the TOTP step (allauth's used-code memory is cached)

    assert client.get(reverse("psychiatrist_home")).status_code == 200


def test_rate_limits_still_hold_while_redis_is_down(client, patient, redis_down):
    for n in range(5):
        post_login(client, patient.user.email, f"wrong-guess-{n}")

    assert TOO_MANY in post_login(client, patient.user.email, DEMO_LIKE_PASSWORD).content
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM clinic_cache_fallback WHERE cache_key LIKE %s", ["%allauth:rl%"])
        assert cursor.fetchone()[0] >= 1  # the counts are kept in the database meanwhile


def test_the_failover_cache_returns_to_redis_when_it_answers_again(settings, redis_url):
    store = failover.FailoverCache("", {"OPTIONS": {"PRIMARY": "redis", "FALLBACK": "database", "RETRY_SECONDS": 0}})
    store.set("k", "from-redis")
    assert caches["redis"].get("k") == "from-redis"
    assert caches["database"].get("k") is None

    live = settings.CACHES["redis"]
    settings.CACHES = {**settings.CACHES, "redis": {**live, "LOCATION": DEAD_REDIS}}
    store.set("k", "from-the-database")
    assert store.get("k") == "from-the-database"
    assert caches["database"].get("k") == "from-the-database"
    assert store.primary_is_down() is False  # RETRY_SECONDS = 0: Redis is tried again at once

    settings.CACHES = {**settings.CACHES, "redis": live}
    assert store.get("k") == "from-redis"
    caches["database"].clear()


def test_after_a_failure_redis_is_left_alone_for_a_while(settings, redis_url, monkeypatch):
    settings.CACHES = {**settings.CACHES, "redis": {**settings.CACHES["redis"], "LOCATION": DEAD_REDIS}}
    attempts = []
    dead = caches["redis"]
    real_get = dead.get
    monkeypatch.setattr(dead, "get", lambda *args, **kwargs: attempts.append(1) or real_get(*args, **kwargs))

    for _ in range(5):
        assert cache.get("anything") is None

    assert len(attempts) == 1
    assert cache.primary_is_down()


def test_healthz_reports_redis_down_although_the_cache_answers(client, redis_down):
    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["cache"] != "ok"
