"""Celery tasks of the FHIR API (found by autodiscover_tasks()); the schedule is declared in
clinic/schedules.py."""

from __future__ import annotations

from celery import shared_task
from oauth2_provider.models import clear_expired


@shared_task
def clear_expired_tokens() -> None:
    """Each night: delete expired access tokens, authorization codes and id_tokens, and refresh
    tokens revoked or expired (django-oauth-toolkit's ``cleartokens``). A revoked refresh token is
    kept until it expires, since REFRESH_TOKEN_REUSE_PROTECTION needs it to spot a replay."""
    clear_expired()
