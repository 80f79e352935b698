"""The apps a person has allowed to read Titrate through the FHIR API, and withdrawing one.

An app holds access while it has an unexpired access token or an unrevoked, unexpired refresh
token (``offline_access``) for that person. Withdrawing deletes the person's access tokens,
authorization codes and id_tokens for the app and revokes its refresh tokens, in one transaction:
the app's next API call gets 401 and it cannot refresh. The app itself stays registered (other
people may use it); the clinic removes an app for everyone in the Django admin (docs/api.md).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from oauth2_provider.models import AccessToken, Grant, IDToken, RefreshToken
from oauth2_provider.settings import oauth2_settings

from clinic import audit
from clinic.models import AuditEvent, User
from interop import smart


@dataclass(frozen=True)
class Connection:
    application_id: int
    name: str
    allowed_at: datetime.datetime
    # None: until withdrawn (a refresh token, renewed each time the app uses it).
    expires_at: datetime.datetime | None
    scopes: tuple[str, ...]

    def scope_descriptions(self) -> list[str]:
        described = smart.scope_descriptions()
        return [str(described.get(scope, scope)) for scope in self.scopes]


def _refresh_alive(now: datetime.datetime) -> Q:
    alive = Q(revoked__isnull=True)
    seconds = oauth2_settings.REFRESH_TOKEN_EXPIRE_SECONDS
    if seconds:
        alive &= Q(created__gt=now - datetime.timedelta(seconds=seconds))
    return alive


def connections_for(user: User) -> list[Connection]:
    """The apps that can read with this person's access now, most recently allowed first.
    Two queries whatever the number of tokens."""
    now = timezone.now()
    found: dict[int, dict] = {}

    def note(application, created, expires, scope):
        entry = found.setdefault(
            application.pk,
            {"name": application.name, "allowed_at": created, "expires_at": expires, "scopes": set()},
        )
        entry["allowed_at"] = min(entry["allowed_at"], created)
        if entry["expires_at"] is not None:
            entry["expires_at"] = None if expires is None else max(entry["expires_at"], expires)
        entry["scopes"].update(scope.split())

    for token in AccessToken.objects.filter(user=user, expires__gt=now).select_related("application"):
        note(token.application, token.created, token.expires, token.scope)
    refresh_tokens = RefreshToken.objects.filter(_refresh_alive(now), user=user).select_related(
        "application", "access_token"
    )
    for token in refresh_tokens:
        note(token.application, token.created, None, token.access_token.scope if token.access_token else "")
    rows = [
        Connection(pk, entry["name"], entry["allowed_at"], entry["expires_at"], tuple(sorted(entry["scopes"])))
        for pk, entry in found.items()
    ]
    return sorted(rows, key=lambda row: row.allowed_at, reverse=True)


@transaction.atomic
def withdraw(user: User, application_id: int, *, request=None) -> bool:
    """Take back the app's access to this person's account. False if it had none (nothing is
    written then). One audit row naming the app, and the patient when a patient withdraws."""
    now = timezone.now()
    refreshed = RefreshToken.objects.filter(user=user, application_id=application_id, revoked__isnull=True).update(
        revoked=now
    )
    deleted = 0
    for model in (AccessToken, Grant, IDToken):
        count, _ = model.objects.filter(user=user, application_id=application_id).delete()
        deleted += count
    if not refreshed and not deleted:
        return False
    audit.record(
        AuditEvent.Action.DELETE,
        request=request,
        actor=user,
        patient=smart.patient_record_of(user),
        detail={"event": "app_access_withdrawn", "application": application_id, "tokens": refreshed + deleted},
    )
    return True
