"""Accounts in the portal (issue 19): the clinic admins' users page, staff and patient
invitations, deactivation, roles and second-factor resets, each patient's care team, and the page
where an invitee sets their password. The changes are made by clinic.invitations, clinic.staff
and patients.record; these views check access, read forms and render."""

from __future__ import annotations

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Exists, F, OuterRef
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from clinic import audit, invitations, staff
from clinic.access import get_patient_for, role_required, token_access
from clinic.models import Invitation, MFAResetRequest, User
from clinic.user_forms import (
    AcceptInvitationForm,
    CareContactEditForm,
    CareTeamForm,
    InviteStaffForm,
    PatientInviteForm,
    RoleForm,
)
from patients import record
from patients.forms import CareContactForm
from patients.models import CareContact
from patients.views import add_errors

clinic_admin_only = role_required(User.Role.CLINIC_ADMIN)
USERS_PER_PAGE = 100


def _privacy_officer_member():
    return Group.user_set.through.objects.filter(user_id=OuterRef("pk"), group__name=invitations.PRIVACY_OFFICER_GROUP)


def _second_factor():
    # Recovery codes alone are no second factor (clinic.adapters.MFAAdapter).
    return Authenticator.objects.filter(user_id=OuterRef("pk")).exclude(type=Authenticator.Type.RECOVERY_CODES)


def _email_sent(request: HttpRequest, sent: bool, what: str) -> None:
    if sent:
        messages.success(request, f"{what} The link works for {settings.TITRATE_INVITATION_DAYS} days.")
    else:
        messages.error(request, "The invitation is saved, but the email could not be sent. Try “Resend” shortly.")


# -- The users page ------------------------------------------------------------------------


@clinic_admin_only
def user_list(request: HttpRequest) -> HttpResponse:
    """Every account with its role, second factor and last sign-in; open invitations; resets
    waiting for a second admin. Patients' accounts name a patient: the audit row lists them."""
    users = (
        User.objects.annotate(
            has_mfa=Exists(_second_factor()),
            privacy_officer=Exists(_privacy_officer_member()),
            patient_id=F("patient_record__id"),
        )
        # Staff first (what an admin manages most), then patients, each by name.
        .order_by("role", "last_name", "first_name", "email")
    )
    page = Paginator(users, USERS_PER_PAGE).get_page(request.GET.get("page"))
    pending = list(Invitation.objects.open().select_related("invited_by").order_by("-sent_at")[:200])
    resets = list(
        MFAResetRequest.objects.filter(approved_at__isnull=True, cancelled_at__isnull=True).select_related(
            "user", "requested_by"
        )
    )
    shown = [user.patient_id for user in page if user.patient_id]
    shown += [invitation.patient_id for invitation in pending if invitation.patient_id]
    audit.record_list(request, "users", shown)
    return render(
        request,
        "clinic/users/list.html",
        {"page": page, "invitations": pending, "resets": resets, "roles": dict(Invitation.Role.choices)},
    )


@clinic_admin_only
def staff_invite(request: HttpRequest) -> HttpResponse:
    form = InviteStaffForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitation, token = invitations.invite_staff(**form.cleaned_data, by=request.user, request=request)
        except ValidationError as error:
            add_errors(form, error)
        else:
            sent = invitations.send(invitation, token, request)
            _email_sent(request, sent, f"Invitation sent to {invitation.email}.")
            return redirect("user_list")
    return render(request, "clinic/users/invite.html", {"form": form})


def _apply(request: HttpRequest, change, obj, done: str, name: str) -> bool:
    """Make one change of clinic.staff or clinic.invitations to ``obj``; tell the admin it was made
    (``done``, with ``{name}``) or why it was not."""
    try:
        change(obj, by=request.user, request=request)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return False
    if done:
        messages.success(request, done.format(name=name))
    return True


@require_POST
@clinic_admin_only
def invitation_resend(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = get_object_or_404(Invitation, pk=pk)
    tokens = []

    def resend(invitation: Invitation, **kwargs) -> None:
        tokens.append(invitations.resend(invitation, **kwargs))

    if _apply(request, resend, invitation, "", invitation.email):
        sent = invitations.send(invitation, tokens[0], request)
        _email_sent(request, sent, f"A new link was sent to {invitation.email}; the earlier one no longer works.")
    return redirect("user_list")


@require_POST
@clinic_admin_only
def invitation_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = get_object_or_404(Invitation, pk=pk)
    done = "Revoked the invitation to {name}. Its link no longer works."
    _apply(request, invitations.revoke, invitation, done, invitation.email)
    return redirect("user_list")


def _managed_user(pk: int) -> User:
    return get_object_or_404(
        User.objects.annotate(privacy_officer=Exists(_privacy_officer_member()), patient_id=F("patient_record__id")),
        pk=pk,
    )


@clinic_admin_only
def user_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One account: its role (changed here), and deactivation and second-factor reset."""
    user = _managed_user(pk)
    current = staff.role_of(user, user.privacy_officer)
    form = RoleForm(request.POST or None, initial={"role": current})
    if request.method == "POST" and form.is_valid():
        try:
            staff.change_role(user, form.cleaned_data["role"], by=request.user, request=request)
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"{user.display_name} is now {Invitation.Role(form.cleaned_data['role']).label}.")
            return redirect("user_detail", user.pk)
    if user.patient_id:
        # A patient's account names them (their email, their name).
        audit.page(request, user.patient_id, "user_account", obj=user)
    context = {
        "managed": user,
        "form": form,
        "role_label": Invitation.Role(current).label,
        "factors": [
            Authenticator.Type(kind).label
            for kind in Authenticator.objects.filter(user=user).values_list("type", flat=True)
        ],
        "reset": MFAResetRequest.objects.filter(user=user, approved_at__isnull=True, cancelled_at__isnull=True)
        .select_related("requested_by")
        .first(),
        "is_self": user.pk == request.user.pk,
    }
    return render(request, "clinic/users/detail.html", context)


def _user_change(request: HttpRequest, pk: int, change, done: str) -> HttpResponse:
    user = get_object_or_404(User, pk=pk)
    _apply(request, change, user, done, user.display_name)
    return redirect("user_detail", user.pk)


@require_POST
@clinic_admin_only
def user_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    done = "Deactivated {name}: they are signed out everywhere and cannot sign in."
    return _user_change(request, pk, staff.deactivate, done)


@require_POST
@clinic_admin_only
def user_reactivate(request: HttpRequest, pk: int) -> HttpResponse:
    return _user_change(request, pk, staff.reactivate, "Reactivated {name}.")


@require_POST
@clinic_admin_only
def mfa_reset_request(request: HttpRequest, pk: int) -> HttpResponse:
    done = "Asked to reset {name}'s second factor. Another clinic admin must approve it."
    return _user_change(request, pk, staff.request_mfa_reset, done)


def _reset_change(request: HttpRequest, pk: int, change, done: str) -> HttpResponse:
    reset = get_object_or_404(MFAResetRequest.objects.select_related("user"), pk=pk)
    _apply(request, change, reset, done, reset.user.display_name)
    return redirect("user_detail", reset.user_id)


@require_POST
@clinic_admin_only
def mfa_reset_approve(request: HttpRequest, pk: int) -> HttpResponse:
    done = "Reset {name}'s second factor: they set up a new authenticator at their next sign-in."
    return _reset_change(request, pk, staff.approve_mfa_reset, done)


@require_POST
@clinic_admin_only
def mfa_reset_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _reset_change(request, pk, staff.cancel_mfa_reset, "Cancelled the second-factor reset for {name}.")


# -- A patient's portal invitation and care team (from their registry page) ------------------


@clinic_admin_only
def patient_invite(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    form = PatientInviteForm(request.POST or None, initial={"email": patient.email})
    if request.method == "POST" and form.is_valid():
        try:
            invitation, token = invitations.invite_patient(
                patient, email=form.cleaned_data["email"], by=request.user, request=request
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            _email_sent(request, invitations.send(invitation, token, request), "Portal invitation sent.")
            return redirect("patients:edit_demographics", patient.pk)
    audit.page(request, patient, "portal_invitation")
    open_invitation = Invitation.objects.open().filter(patient=patient).first()
    context = {"patient": patient, "form": form, "open_invitation": open_invitation}
    return render(request, "clinic/users/patient_invite.html", context)


@clinic_admin_only
def care_team(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk, read=lambda scope: scope.select_related("primary_psychiatrist"))
    form = CareTeamForm(
        request.POST or None,
        initial={"primary_psychiatrist": patient.primary_psychiatrist_id, "others": list(patient.care_team.all())},
    )
    if request.method == "POST" and form.is_valid():
        record.set_care_team(
            patient,
            primary=form.cleaned_data["primary_psychiatrist"],
            others=form.cleaned_data["others"],
            by=request.user,
            request=request,
        )
        messages.success(request, f"Saved {patient.display_name}'s care team.")
        return redirect("care_team", patient.pk)
    audit.page(request, patient, "care_team")
    contacts = list(CareContact.objects.filter(patient=patient).order_by("-is_active", "kind", "name"))
    return render(request, "clinic/users/care_team.html", {"patient": patient, "form": form, "contacts": contacts})


@clinic_admin_only
def care_team_contact_new(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    form = CareContactForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        contact = record.add_care_contact(patient, form.save(commit=False), by=request.user, request=request)
        messages.success(request, f"Added {contact.name} to the care team.")
        return redirect("care_team", patient.pk)
    audit.page(request, patient, "care_contact_form")
    return render(request, "clinic/users/care_contact.html", {"patient": patient, "form": form, "contact": None})


@clinic_admin_only
def care_team_contact_edit(request: HttpRequest, pk: int, contact_id: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    contact = get_object_or_404(CareContact, pk=contact_id, patient=patient)
    form = CareContactEditForm(request.POST or None, instance=contact)
    if request.method == "POST" and form.is_valid():
        if form.changed_data:
            record.update_care_contact(form.save(commit=False), form.changed_data, by=request.user, request=request)
            messages.success(request, f"Saved {contact.name}.")
            return redirect("care_team", patient.pk)
        form.add_error(None, "Nothing was changed.")
    audit.page(request, patient, "care_contact_form", obj=contact)
    return render(request, "clinic/users/care_contact.html", {"patient": patient, "form": form, "contact": contact})


# -- The invitee's page ----------------------------------------------------------------------


@token_access("The random token from the emailed invitation is the permission (clinic.invitations).")
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    if request.user.is_authenticated:
        return render(request, "clinic/users/accept.html", {"signed_in": True})
    invitation = invitations.find(token)
    if invitation is None:
        return render(request, "clinic/users/accept.html", {"refused": invitations.LINK_REFUSED}, status=404)
    form = AcceptInvitationForm(request.POST or None, invitation=invitation)
    if request.method == "POST" and form.is_valid():
        try:
            user = invitations.accept(
                token,
                password=form.cleaned_data["password1"],
                first_name=form.cleaned_data.get("first_name", ""),
                last_name=form.cleaned_data.get("last_name", ""),
                request=request,
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            then = " Then you will set up an authenticator app on your phone." if user.requires_mfa else ""
            messages.success(request, f"Your account is ready. Sign in with your email and new password.{then}")
            return redirect("account_login")
    context = {"form": form, "invitation": invitation, "staff": invitation.role != Invitation.Role.PATIENT}
    return render(request, "clinic/users/accept.html", context)
