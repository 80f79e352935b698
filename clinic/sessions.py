"""Session clocks start at sign-in; a deactivated user is signed out everywhere at once (AUTHN-8)."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_save, pre_save
from django.utils import timezone

from clinic.middleware import SESSION_SEEN, SESSION_STARTED
from clinic.models import User


def end_all_sessions(user: User) -> int:
    from allauth.usersessions.models import UserSession

    sessions = list(UserSession.objects.filter(user=user))
    for session in sessions:
        session.end()
    return len(sessions)


def _remember_active(sender, instance: User, update_fields=None, **kwargs) -> None:
    if instance.pk is None or (update_fields is not None and "is_active" not in update_fields):
        instance._was_active = None
        return
    instance._was_active = User.objects.filter(pk=instance.pk).values_list("is_active", flat=True).first()


def _end_sessions_on_deactivation(sender, instance: User, created=False, **kwargs) -> None:
    if not created and getattr(instance, "_was_active", None) and not instance.is_active:
        end_all_sessions(instance)


def _stamp_session(sender, request, user, **kwargs) -> None:
    """Start the idle and absolute clocks at sign-in (clinic.middleware.SessionTimeoutMiddleware)."""
    if request is not None and hasattr(request, "session"):
        now = int(timezone.now().timestamp())
        request.session[SESSION_STARTED] = now
        request.session[SESSION_SEEN] = now


def connect_signals() -> None:
    user_logged_in.connect(_stamp_session, dispatch_uid="sessions_stamp_on_login")
    pre_save.connect(_remember_active, sender=User, dispatch_uid="sessions_remember_active")
    post_save.connect(_end_sessions_on_deactivation, sender=User, dispatch_uid="sessions_end_on_deactivation")
