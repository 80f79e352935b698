"""Every free-text field has a length limit, in its model and in every form, and says so.

A 2.3 MB side-effect report was accepted before: a TextField has no limit of its own. The models'
TextFields carry max_length (their ModelForm fields take it), plain forms declare theirs, and the
shared help-text template (templates/bootstrap5/layout/help_text.html) tells the person typing a
long answer how much fits.
"""

from __future__ import annotations

import pytest
from django import forms
from django.apps import apps
from django.db import models
from django.urls import reverse

from medications.models import SideEffectReport
from tests import factories
from tests.helpers import log_in
from tests.project_forms import project_forms

OUR_APPS = {"clinic", "patients", "medications", "appointments", "notifications"}


def test_every_text_column_of_ours_has_a_max_length():
    missing = [
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models()
        if model._meta.app_label in OUR_APPS
        for field in model._meta.get_fields()
        if isinstance(field, models.CharField | models.TextField) and not field.max_length
    ]
    assert missing == []


def test_every_free_text_field_of_every_form_has_a_max_length():
    walked, missing = 0, []
    for name, cls in project_forms():
        walked += 1
        for field_name, field in cls.base_fields.items():
            # CharField and its kin (email, URL, slug...); choices, dates and numbers are bounded.
            if isinstance(field, forms.CharField) and not field.max_length:
                missing.append(f"{name}.{field_name}")
    assert walked >= 20
    assert missing == []


@pytest.mark.django_db
def test_an_oversized_side_effect_report_is_refused_with_the_limit_and_keeps_the_text(client, patient, psychiatrist):
    rx = factories.start(patient, psychiatrist)
    log_in(client, patient.user)
    page = client.get(reverse("medications:my_report_create")).content.decode()
    assert 'maxlength="2000"' in page
    assert "Up to 2,000 characters." in page  # the form says the limit before anyone hits it
    long_text = "Qzphi " + "x" * 2_300_000

    response = client.post(
        reverse("medications:my_report_create"),
        {"prescription": str(rx.pk), "symptoms": ["nausea"], "other_symptoms": long_text, "severity": "mild",
         "onset_date": "2026-01-01", "ongoing": "yes"},
    )  # fmt: skip

    assert response.status_code in (200, 400)
    assert SideEffectReport.objects.count() == 0
    if response.status_code == 200:
        errors = response.context["form"].errors["other_symptoms"]
        assert "at most 2000 characters" in errors[0]
