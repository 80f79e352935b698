"""The OAuth server's rows in the Django admin (django-oauth-toolkit registers plain admins): a
patient's tokens and grants say which app reads their record, so their pages are audited as the
patient's, like allauth's account rows (clinic.admin.UserLinkedAdmin). A clinic revokes an app's
access for one patient by deleting that patient's tokens here, or for everyone by deleting the app."""

from __future__ import annotations

from django.contrib import admin
from oauth2_provider import admin as oauth_admin
from oauth2_provider.models import AccessToken, Application, Grant, IDToken, RefreshToken

from clinic.admin import UserLinkedAdmin

for model, base in (
    (Application, oauth_admin.ApplicationAdmin),
    (AccessToken, oauth_admin.AccessTokenAdmin),
    (RefreshToken, oauth_admin.RefreshTokenAdmin),
    (Grant, oauth_admin.GrantAdmin),
    (IDToken, oauth_admin.IDTokenAdmin),
):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(
        model,
        type(f"Audited{base.__name__}", (UserLinkedAdmin, base), {"audit_page": f"admin_{model._meta.model_name}"}),
    )
