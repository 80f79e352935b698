"""Forms of the users pages, the invitation pages and the care team page (clinic.user_views).
They normalise input; clinic.invitations, clinic.staff and patients.record make the changes."""

from __future__ import annotations

from django import forms
from django.contrib.auth.password_validation import password_validators_help_text_html, validate_password
from django.core.exceptions import ValidationError

from clinic.invitations import STAFF_ROLES, user_role
from clinic.models import Invitation, User
from patients.forms import CareContactForm
from patients.models import CareContact

STAFF_ROLE_CHOICES = [(role.value, role.label) for role in STAFF_ROLES]


class InviteStaffForm(forms.Form):
    email = forms.EmailField(max_length=254, help_text="The invitation link is sent here. It becomes their sign-in.")
    role = forms.ChoiceField(choices=STAFF_ROLE_CHOICES)
    first_name = forms.CharField(max_length=150)
    last_name = forms.CharField(max_length=150)
    credentials = forms.CharField(
        max_length=40, required=False, help_text='For psychiatrists and NPs, shown after the name: "MD", "PMHNP-BC".'
    )


class PatientInviteForm(forms.Form):
    email = forms.EmailField(
        max_length=254,
        help_text="The patient's own address: the invitation link is sent here, and it becomes their sign-in.",
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=STAFF_ROLE_CHOICES, label="Role")


class AcceptInvitationForm(forms.Form):
    """The invitee's own password, checked by every validator of AUTH_PASSWORD_VALIDATORS with the
    rules of the role they are invited to (clinic.passwords: 12 characters for staff)."""

    first_name = forms.CharField(max_length=150)
    last_name = forms.CharField(max_length=150)
    password1 = forms.CharField(
        label="Password",
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Password (again)",
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, invitation: Invitation, **kwargs) -> None:
        kwargs.setdefault("initial", {"first_name": invitation.first_name, "last_name": invitation.last_name})
        super().__init__(*args, **kwargs)
        self.invitation = invitation
        if invitation.role == Invitation.Role.PATIENT:
            # A patient's name is their record's; the front desk keeps it.
            del self.fields["first_name"], self.fields["last_name"]

    def clean(self):
        cleaned = super().clean()
        password, again = cleaned.get("password1"), cleaned.get("password2")
        if password and again and password != again:
            self.add_error("password2", "The two passwords differ.")
        elif password:
            invitation = self.invitation
            candidate = User(
                email=invitation.email,
                role=user_role(invitation.role),
                first_name=cleaned.get("first_name", invitation.first_name),
                last_name=cleaned.get("last_name", invitation.last_name),
            )
            try:
                validate_password(password, user=candidate)
            except ValidationError as error:
                self.add_error("password1", error)
        return cleaned


def display_name(user: User) -> str:
    return user.display_name


class CareTeamForm(forms.Form):
    primary_psychiatrist = forms.ModelChoiceField(
        queryset=User.objects.none(),
        required=False,
        empty_label="— none yet —",
        help_text="Sees the patient on their caseload and is told of urgent reports first.",
    )
    others = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(),
        required=False,
        label="Also sharing care",
        widget=forms.CheckboxSelectMultiple,
        help_text="Covering or consulting psychiatrists and nurse practitioners: they can open the chart too.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Active prescribers, by name (index user_role_name): one query per field when shown.
        prescribers = User.objects.filter(role=User.Role.PSYCHIATRIST, is_active=True)
        for name in ("primary_psychiatrist", "others"):
            self.fields[name].queryset = prescribers
            self.fields[name].label_from_instance = display_name


class CareContactEditForm(CareContactForm):
    class Meta(CareContactForm.Meta):
        model = CareContact
        fields = [*CareContactForm.Meta.fields, "is_active"]
        labels = {"is_active": "Still involved in this patient's care"}
