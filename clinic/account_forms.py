"""allauth's sign-up form, answering in the same time whether or not the address has an account.

With ``ACCOUNT_PREVENT_ENUMERATION`` allauth already gives both the same page and sends one email
either way (a verification for a new address, "you already have an account" for a known one), but
only the new account's path hashed the password: about 30 ms against 470 ms in production, which
told anyone whether an address — a patient's, a psychiatrist's — belongs to someone at the clinic
(issue 18). The known-address path now hashes the submitted password with the same hasher and
drops the result, so both paths do the same expensive work; what remains differs by a few row
inserts. ``bench/signup_timing.py`` measures both with the production hasher.
"""

from __future__ import annotations

from allauth.account.forms import SignupForm
from django import forms
from django.contrib.auth.hashers import make_password


class ConstantTimeSignupForm(SignupForm):
    # allauth's class carries an unbounded username field and drops it when the form is built (we
    # sign in by email); bounded here like every text field of ours (tests/test_text_limits.py).
    username = forms.CharField(max_length=150, required=False)

    def try_save(self, request):
        if self.account_already_exists:
            # The same work as set_password on the new-account path; the hash is never stored.
            make_password(self.cleaned_data.get("password1"))
        return super().try_save(request)
