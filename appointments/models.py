from __future__ import annotations

from django.db import models
from django.utils import timezone

from patients.models import ClinicalNote, Patient


class VisitNote(ClinicalNote):
    """A follow-up visit note. Medication changes made in the visit are PrescriptionEvents
    pointing here (``medication_events``); the scheduling work links it to its appointment."""

    class Modality(models.TextChoices):
        IN_PERSON = "in_person", "In person"
        TELEHEALTH = "telehealth", "Telehealth (video)"
        PHONE = "phone", "Phone"

    class Adherence(models.TextChoices):
        AS_PRESCRIBED = "as_prescribed", "Taking as prescribed"
        MISSED_DOSES = "missed_doses", "Missing some doses"
        STOPPED = "stopped", "Stopped one or more medicines"
        NOT_APPLICABLE = "not_applicable", "Not on medication"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="visit_notes")
    visit_at = models.DateTimeField(default=timezone.now)
    modality = models.CharField(max_length=12, choices=Modality.choices, default=Modality.IN_PERSON)
    interval_history = models.TextField("interval history", help_text="What has happened since the last visit.")
    adherence = models.CharField(max_length=20, choices=Adherence.choices, default=Adherence.AS_PRESCRIBED)
    adherence_note = models.TextField(blank=True, help_text="Which doses were missed or stopped, and why.")
    side_effects_reviewed = models.ManyToManyField(
        "medications.SideEffectReport", blank=True, related_name="reviewed_in"
    )
    side_effects_note = models.TextField("side effects discussed", blank=True)
    symptom_scores = models.TextField(blank=True, help_text="Scores entered or reviewed (PHQ-9, GAD-7, …).")
    assessment = models.TextField(blank=True)
    plan = models.TextField(blank=True)
    next_follow_up_weeks = models.PositiveSmallIntegerField("next follow-up in (weeks)", null=True, blank=True)

    class Meta:
        ordering = ["-visit_at", "-id"]
        indexes = [
            # Psychiatrist home: today's visits and unsigned notes by author.
            models.Index(fields=["author", "status", "visit_at"], name="visit_author_status_time"),
        ]

    def __str__(self) -> str:
        return f"Visit {self.visit_at:%Y-%m-%d}"
