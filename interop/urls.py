from django.urls import path, re_path
from oauth2_provider import views as oauth_views

from interop import views

app_name = "interop"

TYPE = r"(?P<resource_type>[A-Z][A-Za-z]+)"
ID = r"(?P<resource_id>[A-Za-z0-9\-\.]{1,64})"

urlpatterns = [
    path("fhir/metadata", views.metadata, name="metadata"),
    path("fhir/.well-known/smart-configuration", views.smart_configuration, name="smart_configuration"),
    path(".well-known/smart-configuration", views.smart_configuration, name="smart_configuration_root"),
    re_path(rf"^fhir/Patient/{ID}/\$everything$", views.patient_everything, name="everything"),
    # Instrument definitions, before the token-guarded patterns: they hold no patient data.
    re_path(rf"^fhir/Questionnaire/{ID}$", views.questionnaire_read, name="questionnaire_read"),
    path("fhir/Questionnaire", views.questionnaire_search, name="questionnaire_search"),
    re_path(rf"^fhir/{TYPE}/{ID}$", views.resource_read, name="read"),
    re_path(rf"^fhir/{TYPE}$", views.resource_search, name="search"),
    path("oauth/authorize/", views.authorize, name="authorize"),
    path("my/apps/", views.my_apps, name="my_apps"),
]

# The OAuth server's own endpoints (django-oauth-toolkit): the token swap, revocation and the OpenID
# Connect signing keys. The app
# registry is the Django admin's (docs/api.md, "Register an app").
oauth_urlpatterns = [
    path("token/", oauth_views.TokenView.as_view(), name="token"),
    path("revoke_token/", oauth_views.RevokeTokenView.as_view(), name="revoke-token"),
    # The id_token's signing key, for apps that asked for openid (on when a key is configured).
    path(".well-known/jwks.json", oauth_views.JwksInfoView.as_view(), name="jwks-info"),
]
