"""The sign-in backends: Django's and allauth's, refusing demo accounts under production settings
(clinic.first_run.may_sign_in). ``user_can_authenticate`` is asked at every sign-in and, through
``get_user``, on every request of a session, so a demo session cannot outlive a switch to
production settings either."""

from __future__ import annotations

from allauth.account.auth_backends import AuthenticationBackend as AllauthBackend
from django.contrib.auth.backends import ModelBackend as DjangoModelBackend

from clinic.first_run import may_sign_in


class ModelBackend(DjangoModelBackend):
    def user_can_authenticate(self, user) -> bool:
        return super().user_can_authenticate(user) and may_sign_in(user)


class AuthenticationBackend(AllauthBackend):
    def user_can_authenticate(self, user) -> bool:
        return super().user_can_authenticate(user) and may_sign_in(user)
