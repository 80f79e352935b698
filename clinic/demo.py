"""The synthetic demo clinic. Every name here is invented; none is a real person.

Each demo patient also gets an invented clinical history (diagnoses, an initial evaluation,
prescriptions with titrations, tapers and dose changes, visit notes and side-effect reports),
written only through the domain functions the portal itself uses (patients.notes,
medications.prescribing, medications.side_effects), so it obeys the same rules as real data.
"""

from __future__ import annotations

import datetime
import math
import random
from dataclasses import dataclass
from decimal import Decimal

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
from django.db import transaction
from django.utils import timezone

from appointments.models import VisitNote
from clinic import audit
from clinic.models import AuditEvent, User
from medications import checklists, prescribing, side_effects
from medications.models import (
    DOSES_PER_DAY,
    ChangeReason,
    DosePlan,
    Frequency,
    Medication,
    Prescription,
    PrescriptionEvent,
    SideEffectReport,
)
from medications.prescribing import PlanStepInput
from patients import icd10, notes
from patients.models import Allergy, Diagnosis, Evaluation, Patient, RiskLevel

DEMO_DOMAIN = "demo.titrate.test"
DEMO_PASSWORD = "Titrate-demo-2026"
# Published in the README so testers can generate codes; demo data only.
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXP"
DEMO_MRN_PREFIX = "DEMO-"


@dataclass(frozen=True)
class DemoUser:
    email: str
    role: str
    first_name: str
    last_name: str
    credentials: str = ""
    is_staff: bool = False


STAFF = [
    DemoUser("psychiatrist@demo.titrate.test", User.Role.PSYCHIATRIST, "Maya", "Okafor", "MD"),
    DemoUser("psychiatrist2@demo.titrate.test", User.Role.PSYCHIATRIST, "Daniel", "Reyes", "PMHNP-BC"),
    DemoUser("admin@demo.titrate.test", User.Role.CLINIC_ADMIN, "Priya", "Sandoval", is_staff=True),
]
PATIENT_USERS = [
    # (user, psychiatrist email, date of birth)
    (
        DemoUser("patient@demo.titrate.test", User.Role.PATIENT, "Jordan", "Ellis"),
        "psychiatrist@demo.titrate.test",
        datetime.date(1991, 4, 12),
    ),
    (
        DemoUser("patient2@demo.titrate.test", User.Role.PATIENT, "Sam", "Whitaker"),
        "psychiatrist2@demo.titrate.test",
        datetime.date(1984, 9, 30),
    ),
]
FIRST_NAMES = [
    "Avery", "Blake", "Casey", "Dana", "Emery", "Finley", "Harper", "Indigo", "Jules", "Kai",
    "Logan", "Morgan", "Noel", "Oakley", "Parker", "Quinn", "Riley", "Sage", "Taylor", "Val",
]  # fmt: skip
LAST_NAMES = [
    "Abernathy", "Bellweather", "Castellano", "Delacroix", "Everly", "Fairbanks", "Galloway",
    "Hollister", "Ingram", "Jansen", "Kowalczyk", "Lindqvist", "Marchetti", "Northcott", "Ostrowski",
]  # fmt: skip
EXTRA_PATIENTS = 30


def non_demo_users_exist() -> bool:
    return User.objects.exclude(email__endswith=f"@{DEMO_DOMAIN}").exists()


def _upsert_user(spec: DemoUser) -> User:
    user, _ = User.objects.update_or_create(
        email=spec.email,
        defaults={
            "role": spec.role,
            "first_name": spec.first_name,
            "last_name": spec.last_name,
            "credentials": spec.credentials,
            "is_staff": spec.is_staff,
            "is_superuser": spec.is_staff,
            "is_active": True,
        },
    )
    user.set_password(DEMO_PASSWORD)
    user.save(update_fields=["password"])
    EmailAddress.objects.update_or_create(user=user, email=spec.email, defaults={"verified": True, "primary": True})
    if user.requires_mfa and not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(user, DEMO_TOTP_SECRET)
        RecoveryCodes.activate(user)
    return user


def _upsert_patient(mrn: str, **fields) -> Patient:
    patient, _ = Patient.objects.update_or_create(mrn=mrn, defaults=fields)
    return patient


@transaction.atomic
def seed() -> dict[str, int]:
    staff = {spec.email: _upsert_user(spec) for spec in STAFF}
    psychiatrists = [u for u in staff.values() if u.role == User.Role.PSYCHIATRIST]
    for number, (spec, psychiatrist_email, dob) in enumerate(PATIENT_USERS, start=1):
        user = _upsert_user(spec)
        _upsert_patient(
            f"{DEMO_MRN_PREFIX}{number:04d}",
            user=user,
            legal_first_name=spec.first_name,
            legal_last_name=spec.last_name,
            date_of_birth=dob,
            email=spec.email,
            primary_psychiatrist=staff[psychiatrist_email],
        )
    for index in range(EXTRA_PATIENTS):
        number = len(PATIENT_USERS) + index + 1
        _upsert_patient(
            f"{DEMO_MRN_PREFIX}{number:04d}",
            legal_first_name=FIRST_NAMES[index % len(FIRST_NAMES)],
            legal_last_name=LAST_NAMES[(index * 7) % len(LAST_NAMES)],
            date_of_birth=datetime.date(1950 + (index * 3) % 55, 1 + index % 12, 1 + (index * 5) % 28),
            primary_psychiatrist=psychiatrists[index % len(psychiatrists)],
        )
    return {
        "users": User.objects.filter(email__endswith=f"@{DEMO_DOMAIN}").count(),
        "patients": Patient.objects.filter(mrn__startswith=DEMO_MRN_PREFIX).count(),
    }
