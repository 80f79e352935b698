"""The unread in-app count for the navbar badge.

It is read from the cache, not counted per page: every page already has a query budget. The
count is computed at login (and on a cache miss), and dropped when an in-app notification is
delivered or read, so it is never more than UNREAD_TTL stale.
"""

from __future__ import annotations

import logging

from django.contrib.auth.signals import user_logged_in
from django.core.cache import cache
from django.http import HttpRequest

from clinic.models import Notification

logger = logging.getLogger(__name__)
UNREAD_TTL = 300


def unread_cache_key(user_id) -> str:
    return f"notifications:unread:{user_id}"


def forget_unread_many(user_ids) -> None:
    """``forget_unread`` for a batch: one cache round trip."""
    if not user_ids:
        return
    try:
        cache.delete_many([unread_cache_key(pk) for pk in user_ids])
    except Exception:
        logger.warning("Cache unavailable; unread counts for %s users not refreshed.", len(user_ids))


def forget_unread(user_id) -> None:
    """Drop the cached badge count. A cache outage must not fail the caller (a page, or a send
    whose SENT is already committed): the count is then at most UNREAD_TTL stale."""
    try:
        cache.delete(unread_cache_key(user_id))
    except Exception:
        logger.warning("Cache unavailable; unread count for user %s not refreshed.", user_id)


def unread_count(user) -> int:
    """The badge must never take a page down: with the cache (Redis) unreachable it is counted
    from the database instead (chaos scenario F3, docs/reliability.md)."""
    key = unread_cache_key(user.pk)
    try:
        count = cache.get(key)
    except Exception:
        logger.warning("Cache unavailable; unread count read from the database.")
        return Notification.objects.unread_in_app(user).count()
    if count is None:
        count = Notification.objects.unread_in_app(user).count()
        try:
            cache.set(key, count, UNREAD_TTL)
        except Exception:
            logger.warning("Cache unavailable; unread count not cached.")
    return count


def unread_notifications(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notification_count": unread_count(user)}


def _warm_on_login(sender, request, user, **kwargs) -> None:
    forget_unread(user.pk)
    unread_count(user)


def connect_signals() -> None:
    """Called from NotificationsConfig.ready(): the badge is counted once at sign-in."""
    user_logged_in.connect(_warm_on_login, dispatch_uid="notifications_warm_unread")
