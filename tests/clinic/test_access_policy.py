"""Deny by default: every view of ours declares exactly one access policy, and the
middleware refuses any view of ours that does not."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpResponse
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver

from clinic.access import (
    AccessPolicy,
    is_our_view,
    logged_in,
    permission_required,
    policy_of,
    public,
    role_required,
    token_access,
)
from clinic.models import User
from tests.access_routes import ACCESS, PERSONA_ROLE, ROUTES, expected, our_url_names


def all_patterns(patterns=None, namespace=None):
    """(name, callback) for every URL pattern, named or not, ours or third-party."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from all_patterns(pattern.url_patterns, pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
            yield name, pattern.callback


def test_every_view_of_ours_declares_a_policy():
    ours = [(name, callback) for name, callback in all_patterns() if is_our_view(callback)]
    assert len(ours) >= len(ROUTES)
    missing = [name or callback.__qualname__ for name, callback in ours if policy_of(callback) is None]
    assert missing == []


def test_every_named_url_of_ours_resolves_to_a_declared_view():
    callbacks = dict(all_patterns())
    names = our_url_names()
    assert names and names <= set(callbacks)
    assert {name for name in names if policy_of(callbacks[name]) is None} == set()


def test_third_party_views_are_not_ours():
    callbacks = dict(all_patterns())
    assert not is_our_view(callbacks["account_login"])
    assert not is_our_view(callbacks["mfa_authenticate"])
    assert is_our_view(callbacks["home"])
    # Every app of ours, the outbox's pages included: deny by default covers them too.
    assert is_our_view(callbacks["notifications"])
    assert is_our_view(callbacks["appointment_action"])


def allowed_roles(kind: str) -> set[str]:
    """The roles whose personas the matrix lets past the role check (a 404 is past it)."""
    return {PERSONA_ROLE[p] for p in PERSONA_ROLE if ACCESS[kind][p] not in (403, "login")}


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_declared_policy_agrees_with_the_matrix(name):
    """The decorator on the view and the row in the matrix say the same thing."""
    policy = policy_of(dict(all_patterns())[name])
    kind = ROUTES[name].kind
    if policy.kind in ("public", "token"):
        assert ACCESS[kind]["anonymous"] == "ok"
        assert policy.reason
        return
    assert ACCESS[kind]["anonymous"] == "login"
    if policy.kind == "logged_in":
        assert allowed_roles(kind) == set(User.Role.values)
    elif policy.kind == "permission":
        assert policy.reason  # the permission; who holds it is data, not a role
    else:
        assert policy.kind == "role"
        assert set(policy.roles) == allowed_roles(kind)


@pytest.mark.django_db
@override_settings(ROOT_URLCONF="tests.clinic.access_policy_urls")
def test_a_view_without_a_policy_is_refused(client):
    declared = client.get("/declared/")
    undeclared = client.get("/undeclared/")

    assert declared.status_code in (200, 503)  # the view ran: 503 only if a service is down
    assert undeclared.status_code == 403
    assert b"status" not in undeclared.content  # the view's JSON never reached the client


@pytest.mark.django_db
@override_settings(ROOT_URLCONF="tests.clinic.access_policy_urls")
def test_a_third_party_view_needs_no_policy(client):
    response = client.get("/outside/")

    assert response.status_code == 200
    assert response.content == b"third party"


def test_a_view_takes_one_policy_only():
    def first(request):
        return HttpResponse("ok")

    def second(request):
        return HttpResponse("ok")

    with pytest.raises(ImproperlyConfigured):
        logged_in(role_required(User.Role.PATIENT)(first))
    with pytest.raises(ImproperlyConfigured):
        public("twice")(token_access("a token")(second))


def test_open_policies_need_a_reason_and_roles_need_a_role():
    for decorator in (public, token_access):
        with pytest.raises(ImproperlyConfigured):
            decorator(" ")
    with pytest.raises(ImproperlyConfigured):
        role_required()


def test_policies_are_recorded_on_the_view():
    def plain(request):
        return HttpResponse("ok")

    assert policy_of(plain) is None
    assert policy_of(role_required(User.Role.PATIENT, User.Role.PSYCHIATRIST)(plain)) == AccessPolicy(
        "role", roles=("patient", "psychiatrist")
    )
    assert policy_of(logged_in(plain)) == AccessPolicy("logged_in")
    assert policy_of(permission_required("clinic.view_auditevent")(plain)) == AccessPolicy(
        "permission", reason="clinic.view_auditevent"
    )


@pytest.mark.django_db
def test_permission_required_checks_the_permission(rf, clinic_admin):
    from django.contrib.auth.models import Permission

    @permission_required("clinic.view_auditevent")
    def audit_page(request):
        return HttpResponse("ok")

    request = rf.get("/")
    request.user = clinic_admin
    with pytest.raises(PermissionDenied):
        audit_page(request)
    clinic_admin.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    request.user = User.objects.get(pk=clinic_admin.pk)  # a fresh permission cache
    assert audit_page(request).status_code == 200


def test_derived_personas_expectations():
    """superuser and mfa_pending need no row of their own in ACCESS."""
    assert expected("clinic_admin", "superuser") == "ok"
    assert expected("psychiatrist", "superuser") == 403
    assert expected("psychiatrist", "superuser", AccessPolicy("permission", reason="clinic.view_auditevent")) == "ok"
    assert expected("psychiatrist_patient", "mfa_pending") == "mfa"
    assert expected("public", "mfa_pending") == "ok"
