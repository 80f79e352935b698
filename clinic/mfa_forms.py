"""allauth's second-factor forms, with each TOTP code refused for as long as it could be accepted.

allauth accepts a TOTP code within ``MFA_TOTP_TOLERANCE`` steps either side of now (RFC 6238
§5.2 drift; one step here, so a code is good for up to 90 s) but remembers a used code for one
30 s period only, in the cache: the same code then opened a second session a period later
(issue 18). RFC 6238 §5.2 says a verifier "MUST NOT accept the second attempt of the OTP after
the successful validation has been issued for the first OTP"; so, as django-otp does, the
authenticator remembers the last time step it accepted, in the database, and a code of that step
or an earlier one is refused. The memory does not expire, is shared by every web process, and
does not depend on the cache being up. Wired in through allauth's ``MFA_FORMS`` setting.
"""

from __future__ import annotations

from allauth.core.internal.cryptokit import compare_user_code
from allauth.mfa.base.forms import AuthenticateForm, BaseAuthenticateForm, ReauthenticateForm
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, yield_hotp_counters_from_time
from allauth.mfa.utils import decrypt
from django import forms
from django.db import transaction

# Key in the TOTP authenticator's ``data`` (allauth keeps the encrypted secret beside it).
LAST_STEP_KEY = "titrate_last_step"
CODE_ALREADY_USED = "That code has already been used. Wait for the next code in your app."
# A TOTP code has 6 digits and a recovery code 8 characters; room for the spaces and dashes people
# type, and a bound like every other text field of ours (tests/test_text_limits.py).
CODE_MAX_LENGTH = 32


def claim_totp_step(authenticator: Authenticator, code: str) -> bool:
    """Record the time step ``code`` belongs to; False if that step (or a later one) was used.

    Runs after allauth has validated the code. The row is locked so two sessions submitting the
    same code at the same moment cannot both claim its step.
    """
    with transaction.atomic():
        locked = Authenticator.objects.select_for_update().get(pk=authenticator.pk)
        secret = decrypt(locked.data["secret"])
        steps = [
            step
            for step in yield_hotp_counters_from_time()
            if compare_user_code(actual=code, expected=format_hotp_value(hotp_value(secret, step)))
        ]
        last = locked.data.get(LAST_STEP_KEY)
        fresh = [step for step in steps if last is None or step > last]
        if not fresh:
            return False
        locked.data[LAST_STEP_KEY] = max(fresh)
        locked.save(update_fields=["data"])
    return True


class SingleUseTOTPMixin(BaseAuthenticateForm):
    code = forms.CharField(
        label="Code",
        max_length=CODE_MAX_LENGTH,
        widget=forms.TextInput(attrs={"placeholder": "Code", "autocomplete": "one-time-code"}),
    )

    def clean_code(self) -> str:
        code = super().clean_code()
        authenticator = self.authenticator
        if authenticator.type == Authenticator.Type.TOTP and not claim_totp_step(authenticator, code):
            # A replayed code is a failed second factor: audited like a wrong one.
            self._emit_authentication_failed(authenticator)
            raise forms.ValidationError(CODE_ALREADY_USED, code="code_already_used")
        return code


class SingleUseAuthenticateForm(SingleUseTOTPMixin, AuthenticateForm):
    pass


class SingleUseReauthenticateForm(SingleUseTOTPMixin, ReauthenticateForm):
    pass
