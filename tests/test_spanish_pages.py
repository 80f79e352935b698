"""Issue 22, the translation check: every patient page, rendered for a patient who reads Spanish,
holds no English left untranslated (tests/i18n_check.py says what counts), and the compiled
catalogue matches its source.

The pages are the access matrix's own (tests/access_routes.py): every GET route a patient
opens, with the clinical world's objects as arguments, so a patient page added later is checked
here without anyone listing it. The sign-in page is checked for a visitor whose language cookie
says Spanish, and the one-click reminder action page for its token holder.
"""

from __future__ import annotations

import gettext
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from clinic import contact, languages, pdf
from tests import clinical_world
from tests.access_routes import ROUTES, resolve
from tests.helpers import log_in
from tests.i18n_check import PO_FILE, english_left

pytestmark = pytest.mark.django_db

# Kinds of page a patient opens (tests/access_routes.py ACCESS), and public pages a patient meets.
PATIENT_KINDS = ("patient", "patient_own", "logged_in")
PUBLIC_PATIENT_PAGES = ("appointment_action",)
PATIENT_PAGES = sorted(
    name
    for name, route in ROUTES.items()
    if not route.post_only and "get" in route.methods and (route.kind in PATIENT_KINDS or name in PUBLIC_PATIENT_PAGES)
)


def _names(world, psychiatrist) -> tuple[str, ...]:
    """Proper names on the world's pages: people, drugs, the clinic, appointment types."""
    patient = world.patient
    return (
        psychiatrist.display_name,
        patient.legal_first_name,
        patient.preferred_name or "",
        world.prescription.medication.generic_name,
        *world.prescription.medication.brand_names,
        world.appointment.appointment_type.name,
        world.outside_medication.name,
        world.outside_medication.source,
        contact.clinic().name,
    )


def test_the_walk_covers_the_patient_pages():
    # The pages a patient reads; a new one joins by being in the access matrix.
    assert {"patient_home", "appointments:my_appointments", "appointments:my_book", "reminder_preferences"} <= set(
        PATIENT_PAGES
    )
    assert {"medications:my_report_create", "patients:my_questionnaire_fill", "notifications"} <= set(PATIENT_PAGES)


@pytest.mark.parametrize("name", PATIENT_PAGES)
def test_patient_page_has_no_english_left(client, patient, psychiatrist, name, monkeypatch):
    languages.set_preference(patient.user, "es")
    world = clinical_world.build(patient, psychiatrist)
    route = ROUTES[name]
    if route.kind != "public":
        log_in(client, patient.user)
    # A PDF is rendered from our own HTML (clinic.pdf): that HTML is what is checked. The record a
    # patient downloads was rendered in the background when the world prepared it (resolve below).
    rendered = []
    real_render = pdf.render
    monkeypatch.setattr(pdf, "render", lambda html, **kw: rendered.append(html) or real_render(html, **kw))
    url = reverse(name, args=[resolve(world, path) for path in route.args])

    response = client.get(url, follow=True)

    assert response.status_code == 200
    if response["Content-Type"] == "application/json":  # a status a page's script polls: its label
        assert english_left(f"<p>{response.json()['label']}</p>") == []
        return
    if response["Content-Type"] == pdf.PDF_CONTENT_TYPE:
        assert response.content.startswith(b"%PDF") and len(rendered) == 1
        html = rendered[0]
    else:
        html = response.content.decode()
    assert '<html lang="es">' in html
    leftovers = english_left(html, names=_names(world, psychiatrist))
    assert leftovers == [], "\n".join(leftovers)


def test_sign_in_page_in_spanish_from_the_cookie(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"

    response = client.get(reverse("account_login"))

    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="es">' in html
    assert "Iniciar sesión" in html  # allauth's own Spanish
    leftovers = english_left(html)
    assert leftovers == [], "\n".join(leftovers)


def test_the_checker_finds_english(patient, psychiatrist):
    """The net catches both kinds of leftover (so a green run means something)."""
    assert english_left("<p>Book an appointment</p>")  # a catalogue string
    assert english_left("<p>Please call us if the pain gets worse.</p>")  # an unmarked sentence
    assert english_left('<button aria-label="Close the menu and go back">x</button>')  # read attributes too
    assert english_left('<p lang="en">Take with food, in the morning.</p>') == []  # marked English
    assert english_left("<p>Pida una cita con la clínica.</p>") == []


def test_compiled_catalogue_matches_the_po(tmp_path):
    """django.mo is committed (so `make run` needs no gettext tools): it must be the .po compiled."""
    fresh = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(fresh), str(PO_FILE)], check=True)
    committed = Path(PO_FILE).with_suffix(".mo")
    with fresh.open("rb") as new, committed.open("rb") as old:
        assert gettext.GNUTranslations(old)._catalog == gettext.GNUTranslations(new)._catalog, (
            "locale/es/LC_MESSAGES/django.mo is stale: run `make compilemessages`"
        )


def test_every_patient_string_is_translated():
    """No msgid of ours is left without Spanish (allauth's and Django's own strings, which their
    catalogues translate, excepted), and none is "fuzzy": msgmerge's guesses are not compiled, so a
    fuzzy entry shows English on the page."""
    text = PO_FILE.read_text(encoding="utf-8")
    assert "fuzzy" not in text.split("\n\n", 1)[1]
    empty = []
    for block in text.split("\n\n")[1:]:
        lines = block.strip().splitlines()
        sources = [line for line in lines if line.startswith("#:")]
        strings = [line for line in lines if line.startswith("msgstr")]
        ours = not any(
            "templates/account/" in source or "clinic/passwords.py" in source or "#~" in source for source in sources
        )
        if ours and strings and any(line.endswith('""') for line in strings):
            empty.append(next(line for line in lines if line.startswith("msgid")))
    assert empty == []
