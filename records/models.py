"""A patient's request for their own record (HIPAA right of access), and the file made for it.

The file is a row of its own (``RecordFile``), in the database: every web node and worker reads
the same copy without a shared disk, it is never under a static or media URL, and deleting the row
deletes the file. The request row is what the status page polls, so it never carries the bytes.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class RecordRequestQuerySet(models.QuerySet["RecordRequest"]):
    def open(self) -> RecordRequestQuerySet:
        return self.filter(status__in=RecordRequest.OPEN)


class RecordRequest(models.Model):
    class Format(models.TextChoices):
        # Each format is one choice here and one builder in records.builders.
        PDF = "pdf", _("PDF, to read and print")
        FHIR = "fhir", _("FHIR JSON, for another health app or clinic")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Waiting to start")
        PREPARING = "preparing", _("Being prepared")
        READY = "ready", _("Ready to download")
        FAILED = "failed", _("Could not be prepared")
        EXPIRED = "expired", _("Expired")

    OPEN = (Status.QUEUED, Status.PREPARING)

    # Not an integer: a download address says nothing about how many records the clinic holds.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="record_requests")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    format = models.CharField(max_length=10, choices=Format.choices, default=Format.PDF)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    # 0-100, written by the worker at each step; the status page's bar.
    progress = models.PositiveSmallIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    language = models.CharField(max_length=5, choices=settings.LANGUAGES, default="en")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    size_bytes = models.PositiveIntegerField(null=True, blank=True)
    # A code ("timeout", "error"), never the exception's text: it could quote the record.
    failure = models.CharField(max_length=20, blank=True)

    objects = RecordRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The patient's page: their requests, newest first.
            models.Index(fields=["patient", "-created_at"], name="record_request_patient"),
            # The sweep: open requests to (re)start and ready ones past their expiry.
            models.Index(
                fields=["status", "created_at"],
                name="record_request_sweep",
                condition=models.Q(status__in=["queued", "preparing", "ready"]),
            ),
        ]
        constraints = [
            # One request in progress per patient and format: a double click makes one file.
            models.UniqueConstraint(
                fields=["patient", "format"],
                condition=models.Q(status__in=["queued", "preparing"]),
                name="one_open_record_request",
            ),
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="record_request_progress_max"),
            models.CheckConstraint(
                condition=~models.Q(status="ready") | models.Q(expires_at__isnull=False),
                name="record_request_ready_expires",
            ),
        ]

    def __str__(self) -> str:
        return f"Record request {self.pk} ({self.format}, {self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN

    def is_downloadable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.status == self.Status.READY and self.expires_at is not None and self.expires_at > now


class RecordFile(models.Model):
    """The prepared file: deleted (with its bytes) when the link expires."""

    request = models.OneToOneField(RecordRequest, on_delete=models.CASCADE, primary_key=True, related_name="file")
    content = models.BinaryField()
    content_type = models.CharField(max_length=60)
    filename = models.CharField(max_length=80)
    sha256 = models.CharField(max_length=64)

    def __str__(self) -> str:
        return self.filename
