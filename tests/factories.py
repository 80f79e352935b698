from __future__ import annotations

import datetime

import factory
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP

from clinic.models import User
from patients.models import Patient
from tests.totp import DEMO_TOTP_SECRET

DEMO_LIKE_PASSWORD = "correct-horse-battery-9"
TOTP_SECRET = DEMO_TOTP_SECRET


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    first_name = factory.Sequence(lambda n: f"First{n}")
    last_name = factory.Sequence(lambda n: f"Last{n}")
    role = User.Role.PATIENT
    password = factory.django.Password(DEMO_LIKE_PASSWORD)

    @factory.post_generation
    def verified_email(self, create, extracted, **kwargs):
        if create and extracted is not False:
            EmailAddress.objects.create(user=self, email=self.email, verified=True, primary=True)

    @factory.post_generation
    def totp(self, create, extracted, **kwargs):
        """Staff get a TOTP authenticator by default (pass totp=False to leave it out)."""
        if create and self.requires_mfa and extracted is not False:
            TOTP.activate(self, TOTP_SECRET)


class PsychiatristFactory(UserFactory):
    role = User.Role.PSYCHIATRIST
    credentials = "MD"


class ClinicAdminFactory(UserFactory):
    role = User.Role.CLINIC_ADMIN


class PatientUserFactory(UserFactory):
    role = User.Role.PATIENT


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    legal_first_name = factory.Sequence(lambda n: f"Given{n}")
    legal_last_name = factory.Sequence(lambda n: f"Family{n}")
    date_of_birth = datetime.date(1990, 5, 17)
    mrn = factory.Sequence(lambda n: f"T{n:06d}")
    primary_psychiatrist = factory.SubFactory(PsychiatristFactory)
