"""Forms of the secure-message pages (medications/message_views.py): they only read input; the
rules (length, who may start what) are medications.threads'."""

from __future__ import annotations

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from medications.models import MESSAGE_MAX_LENGTH, MessageThread

Kind, Category = MessageThread.Kind, MessageThread.Category
TEXT_HELP = format_lazy(
    _("Plain text, at most {} characters. A sent message cannot be changed: to correct one, send another."),
    MESSAGE_MAX_LENGTH,
)


def _text_field(label: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=MESSAGE_MAX_LENGTH,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 5, "maxlength": MESSAGE_MAX_LENGTH}),
        help_text=TEXT_HELP,
    )


class NewThreadForm(forms.Form):
    category = forms.ChoiceField(label=_("What is it about?"), choices=Category.choices)
    subject = forms.CharField(label=_("Subject"), max_length=120)
    text = _text_field(_("Your message"))


class StaffNewThreadForm(NewThreadForm):
    kind = forms.ChoiceField(
        label="Who reads it",
        choices=[(Kind.PATIENT, "The patient and the care team"), (Kind.STAFF, "The care team only")],
        widget=forms.RadioSelect,
        initial=Kind.PATIENT,
    )
    field_order = ["kind", "category", "subject", "text"]


class MessageForm(forms.Form):
    text = _text_field(_("Message"))


class AssignForm(forms.Form):
    assigned_to = forms.TypedChoiceField(label="Assigned to", coerce=int, empty_value=None, required=False)

    def __init__(self, *args, people=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assigned_to"].choices = [("", "Nobody (the care team)")] + [
            (user.pk, user.display_name) for user in people
        ]
