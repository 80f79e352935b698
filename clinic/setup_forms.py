"""The clinic profile form of Clinic set-up. It only normalises input; clinic.profile saves."""

from __future__ import annotations

import zoneinfo

from django import forms
from django.conf import settings

from clinic.envconf import is_phone_number
from clinic.models import ClinicProfile, User

# Where a US clinic most likely is, offered first; every other IANA zone follows.
US_ZONES = [
    ("America/New_York", "Eastern — New York"),
    ("America/Chicago", "Central — Chicago"),
    ("America/Denver", "Mountain — Denver"),
    ("America/Phoenix", "Mountain, no daylight saving — Phoenix"),
    ("America/Los_Angeles", "Pacific — Los Angeles"),
    ("America/Anchorage", "Alaska — Anchorage"),
    ("Pacific/Honolulu", "Hawaii — Honolulu"),
    ("America/Puerto_Rico", "Atlantic — Puerto Rico"),
]
# Canonical region/city names; the zone database's aliases (US/Eastern, EST5EDT, Etc/GMT+5) are left out.
REGIONS = ("Africa", "America", "Antarctica", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific")


def time_zone_choices(current: str = "") -> list:
    """US zones first, then every canonical zone; ``current`` too if it is a zone the list leaves
    out (set from the environment, e.g. US/Eastern), so saving the form does not change it unseen."""
    listed = {name for name, _ in US_ZONES}
    zones = zoneinfo.available_timezones()
    others = {name for name in zones if name.split("/")[0] in REGIONS and name not in listed}
    if current in zones and current not in listed:
        others.add(current)
    others = sorted(others - {"UTC"})
    every = [(name, name.replace("_", " ")) for name in [*others, "UTC"]]
    return [("United States", US_ZONES), ("All time zones", every)]


class OnCallChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return f"{obj.display_name} ({obj.get_role_display().lower()}, {obj.email})"


class ClinicProfileForm(forms.ModelForm):
    time_zone = forms.ChoiceField(
        label="Time zone", help_text="The clinic's own. Each person still sees times in their own zone."
    )
    on_call = OnCallChoiceField(
        queryset=User.objects.none(),
        required=False,
        label="On-call contact",
        empty_label="Nobody named: every clinic admin is told",
        help_text=ClinicProfile._meta.get_field("on_call").help_text,
    )
    response_business_days = forms.IntegerField(
        label="Messages answered within (business days)",
        min_value=1,
        max_value=10,
        help_text="Told to patients beside “send a message”.",
    )

    class Meta:
        model = ClinicProfile
        fields = ["name", "phone", "hours", "after_hours", "time_zone", "on_call", "response_business_days"]
        labels = {"name": "Clinic name", "phone": "Phone number"}
        widgets = {"after_hours": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = time_zone_choices(self.instance.time_zone)
        # Active psychiatrists and clinic admins: the people an unacknowledged alert can reach.
        self.fields["on_call"].queryset = User.objects.filter(
            is_active=True, role__in=[User.Role.PSYCHIATRIST, User.Role.CLINIC_ADMIN]
        ).order_by("last_name", "first_name", "email")

    def clean_phone(self) -> str:
        value = self.cleaned_data["phone"].strip()
        if not is_phone_number(value, settings.PHONENUMBER_DEFAULT_REGION):
            raise forms.ValidationError(
                "This is not a telephone number patients could dial. Check the digits, e.g. (617) 555-0100."
            )
        return value
