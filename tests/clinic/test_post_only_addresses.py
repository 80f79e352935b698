"""An address that only takes a form's POST answers a GET by sending the person to the page the
action belongs to, never with a blank 405 (issue 16, item 16: `/my/waitlist/`; the sign-in page's
`next` brings anyone whose session ended with a form open back to such an address)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clinic.middleware import page_above
from patients.models import VisitNote
from tests import factories
from tests.factories import DEMO_LIKE_PASSWORD
from tests.totp import totp_code

pytestmark = pytest.mark.django_db


def test_signing_after_the_session_ended_lands_on_the_note_unsigned(client, psychiatrist, patient):
    note = factories.visit(patient, psychiatrist)
    sign = reverse("appointments:visit_sign", args=[patient.pk, note.pk])

    # Signed out (the session timed out) with the note open: the button's POST goes to sign-in.
    refused = client.post(sign)
    assert refused.status_code == 302
    login = refused["Location"]
    assert login == f"{reverse('account_login')}?next={sign}"
    client.post(login, {"login": psychiatrist.email, "password": DEMO_LIKE_PASSWORD})
    response = client.post(reverse("mfa_authenticate"), {"code": totp_code()}, follow=True)

    detail = reverse("appointments:visit_detail", args=[patient.pk, note.pk])
    assert [url for url, _ in response.redirect_chain] == [sign, detail]
    assert response.status_code == 200
    assert "Nothing was changed: that needs its button on this page." in response.content.decode()
    assert VisitNote.objects.get(pk=note.pk).status == VisitNote.Status.DRAFT


@pytest.mark.parametrize(
    ("path", "above"),
    [
        ("/patients/7/visits/4/sign/", "/patients/7/visits/4/"),
        ("/patients/7/diagnoses/14/resolve/", "/patients/7/"),
        ("/patients/7/prescriptions/20/plans/15/confirm/", "/patients/7/prescriptions/20/"),
        ("/my/appointments/35/cancel/", "/my/appointments/"),
        ("/my/waitlist/", "/my/"),
        ("/alerts/4/acknowledge/", "/alerts/"),
        ("/accounts/", "/"),
    ],
)
def test_the_page_above_is_the_nearest_of_ours(path, above):
    assert page_above(path) == above
