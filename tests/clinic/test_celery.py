"""Celery as production runs it: a real worker taking tasks from Redis."""

from __future__ import annotations

import uuid

import pytest
from celery.contrib.testing.worker import start_worker

from clinic.celery import app
from clinic.tasks import ping


def test_app_is_configured_for_safe_delivery():
    conf = app.conf
    assert conf.task_serializer == "json"
    assert conf.accept_content == ["json"]
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert (conf.task_soft_time_limit, conf.task_time_limit) == (60, 90)
    assert conf.timezone == "UTC"
    assert conf.beat_scheduler == "django_celery_beat.schedulers:DatabaseScheduler"


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_round_trip_through_a_real_worker_over_redis(redis_url):
    assert app.conf.broker_url == redis_url
    token = uuid.uuid4().hex

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        result = ping.delay(token)
        payload = result.get(timeout=20)

    assert payload["token"] == token
    assert payload["worker"]
    assert result.successful()
