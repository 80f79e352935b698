"""The private calendar-feed address: a patient replaces their own (the old one stops at once),
and the token never reaches a log line (issue 18 item 8; ASVS 16.2.5)."""

from __future__ import annotations

import datetime
import io
import logging
import runpy
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from gunicorn.config import Config

from clinic.logmask import MASK, MaskSecretsFilter
from clinic.models import AuditEvent, CalendarFeed
from tests.helpers import log_in

pytestmark = pytest.mark.django_db


def feed_of(user) -> CalendarFeed:
    return CalendarFeed.objects.get(user=user)


def ics(client, feed_or_token):
    token = getattr(feed_or_token, "token", feed_or_token)
    return client.get(reverse("appointments:ics_feed", args=[token]))


def test_a_patient_replaces_their_feed_address_and_the_old_one_stops_at_once(client, patient):
    log_in(client, patient.user)
    client.get(reverse("appointments:my_appointments"))
    old = feed_of(patient.user)
    assert ics(Client(), old).status_code == 200

    response = client.post(reverse("appointments:my_feed_replace"))

    assert response.status_code == 302
    assert response["Location"] == reverse("appointments:my_appointments")
    new = feed_of(patient.user)
    assert new.token != old.token
    assert ics(Client(), old).status_code == 404
    assert ics(Client(), new).status_code == 200
    page = client.get(reverse("appointments:my_appointments")).content.decode()
    assert str(new.token) in page and str(old.token) not in page
    assert "Your old calendar address no longer works" in page
    row = AuditEvent.objects.filter(action=AuditEvent.Action.UPDATE).get()
    assert (row.actor, row.patient, row.object_type, row.object_id) == (
        patient.user,
        patient,
        "clinic.CalendarFeed",
        str(new.pk),
    )
    assert row.detail == {"event": "calendar_feed_replaced", "previous_feed_id": old.pk}


def test_replacing_the_address_needs_the_forms_csrf_token(patient):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(patient.user)
    old = CalendarFeed.objects.create(user=patient.user)

    response = browser.post(reverse("appointments:my_feed_replace"))

    assert response.status_code == 403
    assert feed_of(patient.user).token == old.token
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.UPDATE).exists()


def test_the_my_appointments_page_offers_the_replace_button(client, patient):
    log_in(client, patient.user)
    page = client.get(reverse("appointments:my_appointments")).content.decode()
    assert f'action="{reverse("appointments:my_feed_replace")}"' in page
    assert "csrfmiddlewaretoken" in page


def test_a_psychiatrists_replacement_is_audited_too(client, psychiatrist):
    log_in(client, psychiatrist)
    client.get(reverse("appointments:my_feed"))
    old = feed_of(psychiatrist)

    client.post(reverse("appointments:my_feed"))

    assert ics(Client(), old).status_code == 404
    row = AuditEvent.objects.filter(action=AuditEvent.Action.UPDATE).get()
    assert (row.actor, row.patient, row.object_id) == (psychiatrist, None, str(feed_of(psychiatrist).pk))


@pytest.fixture
def log_output():
    """What the configured log handlers write, read back from the handler LOGGING installs."""
    handlers = [
        handler
        for handler in logging.getLogger().handlers
        if any(isinstance(f, MaskSecretsFilter) for f in handler.filters)
    ]
    assert handlers, "LOGGING's console handler lost its mask_secrets filter"
    stream = io.StringIO()
    previous = [handler.setStream(stream) for handler in handlers]
    yield stream
    for handler, old in zip(handlers, previous, strict=True):
        handler.setStream(old)


def test_a_refused_feed_token_is_masked_in_djangos_log(client, patient, log_output):
    revoked = CalendarFeed.objects.create(user=patient.user)
    CalendarFeed.objects.filter(pk=revoked.pk).delete()

    assert ics(client, revoked).status_code == 404  # Django logs "Not Found: <path>"

    logged = log_output.getvalue()
    assert f"/calendar/{MASK}.ics" in logged
    assert str(revoked.token) not in logged


def test_runservers_request_lines_are_masked(patient, log_output):
    token = CalendarFeed.objects.create(user=patient.user).token
    # What django.core.servers.basehttp.WSGIRequestHandler.log_message logs for every request.
    logging.getLogger("django.server").info('"%s" %s %s', f"GET /calendar/{token}.ics HTTP/1.1", "200", "512")

    logged = log_output.getvalue()
    # Plain or JSON lines (DJANGO_LOG_FORMAT; JSON escapes the quotes): the masked request line.
    assert f"GET /calendar/{MASK}.ics HTTP/1.1" in logged
    assert str(token) not in logged


def test_gunicorns_access_log_masks_the_token_in_every_field(tmp_path, patient):
    token = CalendarFeed.objects.create(user=patient.user).token
    path = f"/calendar/{token}.ics"
    # gunicorn reads ./gunicorn.conf.py from where it starts, the project root.
    config_file = Config().settings["config"].get()
    assert config_file == "./gunicorn.conf.py"
    cfg = Config()
    for name, value in runpy.run_path(str(settings.BASE_DIR / config_file)).items():
        if name in cfg.settings:
            cfg.set(name, value)
    cfg.set("accesslog", str(tmp_path / "access.log"))
    cfg.set("access_log_format", cfg.access_log_format + ' %(U)s %(q)s %({referer}i)s "%({x-original-url}i)s"')
    logger = cfg.logger_class(cfg)
    referrer = f"https://titrate.example.org{path}"
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": path,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_REFERER": referrer,
        "HTTP_USER_AGENT": "CalendarAgent/1.0",
    }
    request = SimpleNamespace(headers=[("REFERER", referrer), ("X-ORIGINAL-URL", path)])
    response = SimpleNamespace(status="200 OK", sent=512, headers=[("Content-Type", "text/calendar")])

    logger.access(response, request, environ, datetime.timedelta(milliseconds=12))

    for handler in logger.access_log.handlers:
        handler.flush()
    line = (tmp_path / "access.log").read_text()
    assert str(token) not in line
    assert line.count(f"/calendar/{MASK}.ics") == 5  # request line, referrer, path, header x2
