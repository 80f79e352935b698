import datetime, json
import pytest
from django.core.management import call_command
from django.utils import timezone
from tests import factories, clinical_world
from tests.e2e.browser import Journey, RUN_AXE, AXE_TAGS, AXE_URL
from tests.e2e.conftest import ARTIFACTS
from tests.patients.test_measure_views import sertraline_history
from django.urls import reverse

@pytest.mark.django_db(transaction=True)
def test_survey(live_server, chromium, psychiatrist, patient, clinic_admin):
    call_command("load_formulary")
    rx = sertraline_history(patient, psychiatrist)
    from types import SimpleNamespace
    from patients import questionnaires
    w = SimpleNamespace(visit=factories.visit(patient, psychiatrist), prescription=rx,
        appointment=factories.AppointmentFactory(patient=patient),
        questionnaire_assignment=questionnaires.assign(patient=patient, instrument="phq9", assigned_by=psychiatrist))
    out = {}
    def survey(user, totp, paths, mobile=False):
        ctx = chromium.new_context(viewport={"width": 390, "height": 844} if mobile else {"width": 1280, "height": 900})
        page = ctx.new_page()
        j = Journey(page, live_server.url, "survey", ARTIFACTS)
        try:
            j.sign_in(user.email, totp=totp)
        except AssertionError as e:
            out["login-" + user.email] = str(e)[:3000]
        for p in paths:
            page.goto(live_server.url + p)
            if not page.evaluate("() => typeof window.axe === 'object'"):
                page.add_script_tag(url=live_server.url + AXE_URL)
            v = page.evaluate(RUN_AXE, AXE_TAGS)
            out[p] = [x for x in v if x["impact"] in ("serious", "critical")]
        ctx.close()
    pk = patient.pk
    survey(psychiatrist, True, ["/psychiatrist/", f"/patients/{pk}/", f"/patients/{pk}/prescriptions/new/", f"/patients/{pk}/visits/new/",
        f"/patients/{pk}/visits/{w.visit.pk}/", f"/patients/{pk}/prescriptions/{w.prescription.pk}/", f"/patients/{pk}/prescriptions/{w.prescription.pk}/change/",
        f"/patients/{pk}/prescriptions/{w.prescription.pk}/stop/", "/side-effects/", "/alerts/", "/notifications/"])
    survey(patient.user, False, ["/my/", "/my/side-effects/new/", "/patients/me/questionnaires/", f"/patients/me/questionnaires/{w.questionnaire_assignment.pk}/",
        "/my/appointments/", "/my/appointments/book/", "/settings/reminders/", "/notifications/"], mobile=True)
    survey(clinic_admin, True, ["/front-desk/", "/front-desk/calendar/", "/front-desk/calendar/day/", f"/front-desk/psychiatrists/{psychiatrist.pk}/availability/",
        "/appointments/new/", f"/appointments/{w.appointment.pk}/", "/front-desk/deliveries/", "/patients/registry/"])
    (ARTIFACTS / "survey.json").write_text(json.dumps(out, indent=1))
