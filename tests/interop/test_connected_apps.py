"""Connected apps (interop.connections): a person sees the apps they allowed and withdraws one; the
app's tokens stop working at once, nobody else's change, and the withdrawal is audited."""

from __future__ import annotations

import datetime
import secrets

import pytest
from django.urls import reverse
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application, Grant, RefreshToken

from clinic import languages
from clinic.models import AuditEvent
from tests import factories
from tests.helpers import log_in
from tests.interop.conftest import REDIRECT

pytestmark = pytest.mark.django_db


def _app(name: str) -> Application:
    return factories.health_app(name)


def _access(user, app, scopes="launch/patient patient/*.rs", *, minutes=10) -> str:
    return factories.app_token(user, app, scopes, minutes=minutes)


def _offline(user, app, scopes="launch/patient patient/*.rs offline_access") -> str:
    """An access token that expired, and its live refresh token: the app can come back."""
    raw = _access(user, app, scopes, minutes=-5)
    access = AccessToken.objects.filter(user=user, application=app).latest("id")
    RefreshToken.objects.create(user=user, application=app, token=secrets.token_urlsafe(30), access_token=access)
    return raw


def _cards(html: str) -> list[str]:
    return [part.split("</h2>")[0].split(">")[-1] for part in html.split('<h2 class="h5" id="app-')[1:]]


def test_a_patient_sees_their_apps_and_what_each_reads(client, patient, patient2, django_assert_max_num_queries):
    diary, coach, other = _app("Mood diary"), _app("Sleep coach"), _app("Someone else's app")
    _access(patient.user, diary, "launch/patient patient/Observation.rs")
    _offline(patient.user, coach)
    _access(patient2.user, other)
    _access(patient.user, other, minutes=-1)  # expired, no refresh token: no access left
    log_in(client, patient.user)

    with django_assert_max_num_queries(8):
        response = client.get(reverse("interop:my_apps"))

    assert response.status_code == 200
    html = response.content.decode()
    assert sorted(_cards(html)) == ["Mood diary", "Sleep coach"]
    assert "your questionnaire scores, lab results and measurements" in html  # the diary's one type
    assert "It keeps access until you withdraw it." in html  # the coach's offline access


def test_withdrawing_stops_the_app_at_once_and_is_audited(client, patient, patient2, psychiatrist):
    diary, coach = _app("Mood diary"), _app("Sleep coach")
    raw = _access(patient.user, diary)
    _offline(patient.user, diary)
    Grant.objects.create(
        user=patient.user,
        application=diary,
        code=secrets.token_urlsafe(20),
        expires=timezone.now() + datetime.timedelta(minutes=1),
        redirect_uri=REDIRECT,
        scope="patient/*.rs",
    )
    kept = _access(patient.user, coach)
    theirs = _access(patient2.user, diary)
    api = reverse("interop:read", args=["Patient", patient.pk])
    assert client.get(api, HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    log_in(client, patient.user)
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()

    response = client.post(reverse("interop:my_apps"), {"application": diary.pk}, follow=True)

    assert response.status_code == 200
    assert "can no longer read your information" in response.content.decode()
    assert _cards(response.content.decode()) == ["Sleep coach"]
    assert not AccessToken.objects.filter(user=patient.user, application=diary).exists()
    assert not Grant.objects.filter(user=patient.user, application=diary).exists()
    assert not RefreshToken.objects.filter(user=patient.user, application=diary, revoked__isnull=True).exists()
    rows = list(AuditEvent.objects.filter(id__gt=last))
    assert [(row.action, row.patient_id, row.detail["event"], row.detail["application"]) for row in rows] == [
        (AuditEvent.Action.DELETE, patient.pk, "app_access_withdrawn", diary.pk)
    ]
    client.logout()
    assert client.get(api, HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401
    # The other app of the same patient, and the same app for another patient, still read.
    assert client.get(api, HTTP_AUTHORIZATION=f"Bearer {kept}").status_code == 200
    other_api = reverse("interop:read", args=["Patient", patient2.pk])
    assert client.get(other_api, HTTP_AUTHORIZATION=f"Bearer {theirs}").status_code == 200


def test_nobody_withdraws_another_persons_app(client, patient, patient2):
    diary = _app("Mood diary")
    _access(patient2.user, diary)
    log_in(client, patient.user)
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()

    response = client.post(reverse("interop:my_apps"), {"application": diary.pk}, follow=True)

    assert "That app had no access to withdraw." in response.content.decode()
    assert AccessToken.objects.filter(user=patient2.user, application=diary).count() == 1
    assert not AuditEvent.objects.filter(id__gt=last).exists()


def test_bad_input_withdraws_nothing(client, patient):
    diary = _app("Mood diary")
    _access(patient.user, diary)
    log_in(client, patient.user)

    for data in ({}, {"application": "x"}, {"application": "-3"}):
        response = client.post(reverse("interop:my_apps"), data)
        assert response.status_code == 302
    assert AccessToken.objects.filter(user=patient.user, application=diary).count() == 1


def test_a_psychiatrist_withdraws_a_staff_app(client, psychiatrist):
    viewer = _app("Caseload viewer")
    _access(psychiatrist, viewer, "user/*.rs")
    log_in(client, psychiatrist)
    assert _cards(client.get(reverse("interop:my_apps")).content.decode()) == ["Caseload viewer"]

    client.post(reverse("interop:my_apps"), {"application": viewer.pk})

    assert _cards(client.get(reverse("interop:my_apps")).content.decode()) == []
    row = AuditEvent.objects.filter(detail__event="app_access_withdrawn").get()
    assert (row.actor_id, row.patient_id) == (psychiatrist.pk, None)


def test_the_page_in_spanish(client, patient):
    _offline(patient.user, _app("Mood diary"))
    languages.set_preference(patient.user, "es")
    log_in(client, patient.user)

    html = client.get(reverse("interop:my_apps")).content.decode()

    assert "Aplicaciones conectadas" in html
    assert "Retirar" in html


def test_the_nightly_task_deletes_expired_tokens_and_keeps_live_ones(patient, patient2):
    from interop.tasks import clear_expired_tokens

    diary = _app("Mood diary")
    _access(patient.user, diary, minutes=-60 * 24)  # expired a day ago, no refresh token
    _access(patient2.user, diary)

    clear_expired_tokens()

    assert list(AccessToken.objects.values_list("user_id", flat=True)) == [patient2.user.pk]
