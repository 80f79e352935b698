from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from clinic import prescriber_ids
from clinic.models import User


class PrescriberDetailsForm(forms.ModelForm):
    """A psychiatrist's own credentials, NPI and DEA number, as printed on prescriptions. Spaces
    and dashes people copy from a certificate are dropped; the checks are clinic.prescriber_ids'."""

    class Meta:
        model = User
        fields = ["credentials", "npi", "dea_number"]
        help_texts = {
            "credentials": "As printed after your name, e.g. MD or PMHNP-BC.",
            "npi": "Your 10-digit individual NPI (not the clinic's).",
            "dea_number": "Needed on prescriptions for controlled substances. Two letters and seven digits.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The model's validators run once, in _post_clean, on the value clean_* normalised.
        for name in ("npi", "dea_number"):
            self.fields[name].validators = []

    def clean_npi(self) -> str:
        return "".join(self.cleaned_data["npi"].split()).replace("-", "")

    def clean_dea_number(self) -> str:
        value = "".join(self.cleaned_data["dea_number"].split()).replace("-", "").upper()
        if value and not prescriber_ids.dea_matches_last_name(value, self.instance.last_name):
            raise ValidationError(
                "The second letter of a DEA number is the first letter of your last name "
                f"({self.instance.last_name[:1].upper()}), or 9 for a business registration."
            )
        return value
