"""Saving the clinic's profile (its name, phone, hours, on-call contact, answer time) from the
Clinic set-up page: one audit row in the same transaction, and the cached copy every page reads
(clinic.contact.clinic()) dropped so the change shows at once."""

from __future__ import annotations

from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest

from clinic import audit
from clinic.contact import clinic
from clinic.models import CLINIC_PROFILE_CACHE_KEY, AuditEvent, ClinicProfile, User

AUDIT_PAGE = "clinic_profile"


def current() -> ClinicProfile:
    """The saved profile, or an unsaved one filled from what patients see now (the settings)."""
    row = ClinicProfile.objects.select_related("on_call").filter(pk=1).first()
    if row is not None:
        return row
    shown = clinic()
    on_call = (
        User.objects.filter(email__iexact=shown.on_call_email, is_active=True).first() if shown.on_call_email else None
    )
    return ClinicProfile(name=shown.name, phone=shown.phone, time_zone=shown.time_zone, on_call=on_call)


def save_profile(profile: ClinicProfile, *, fields: list[str], request: HttpRequest) -> ClinicProfile:
    """Save the profile; ``fields`` are those the admin changed (named in the audit row, values not:
    an after-hours instruction is free text)."""
    with transaction.atomic():
        creating = not ClinicProfile.objects.filter(pk=1).exists()
        profile.save()  # drops the cached copy
        action = AuditEvent.Action.CREATE if creating else AuditEvent.Action.UPDATE
        audit.record(action, request=request, obj=profile, detail={"page": AUDIT_PAGE, "fields": sorted(fields)})
        # Again after commit: a page that read the old row between save() and the commit would
        # otherwise cache it for the cache's lifetime.
        transaction.on_commit(lambda: cache.delete(CLINIC_PROFILE_CACHE_KEY))
    return profile
