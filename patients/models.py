from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone


class PatientQuerySet(models.QuerySet["Patient"]):
    def active(self):
        return self.filter(is_active=True)


class Patient(models.Model):
    """A person in the clinic's care. Demographics only here; clinical data hangs off it."""

    # The patient's own login, if they have activated portal access.
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="patient_record",
        limit_choices_to={"role": "patient"},
    )
    legal_first_name = models.CharField(max_length=100)
    legal_last_name = models.CharField(max_length=100)
    preferred_name = models.CharField(max_length=100, blank=True)
    date_of_birth = models.DateField()
    email = models.EmailField(blank=True)
    time_zone = models.CharField(max_length=64, default=settings.TITRATE_DEFAULT_TIME_ZONE)
    primary_psychiatrist = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="primary_patients",
        limit_choices_to={"role": "psychiatrist"},
    )
    # Medical record number: the identifier staff read out, never a database id.
    mrn = models.CharField("MRN", max_length=20, unique=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = PatientQuerySet.as_manager()

    class Meta:
        ordering = ["legal_last_name", "legal_first_name", "id"]
        indexes = [
            # A psychiatrist's patient list (clinic.access.patients_for).
            models.Index(fields=["primary_psychiatrist", "legal_last_name"], name="patient_psych_name"),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.mrn})"

    @property
    def display_name(self) -> str:
        first = self.preferred_name or self.legal_first_name
        return f"{first} {self.legal_last_name}"

    def age_on(self, day: datetime.date) -> int:
        dob = self.date_of_birth
        return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))
