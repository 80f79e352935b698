from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.stagekit import clear_login
from allauth.core import ratelimit
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from django.conf import settings

from clinic import audit, first_run
from clinic.models import User

# Per client address, failed sign-ins only (ACCOUNT_RATE_LIMITS in settings).
LOGIN_FAILED_PER_ADDRESS = "login_failed_address"


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        # Self-registration only ever creates patient accounts; staff accounts
        # are made by a clinic admin. The clinic links the account to a
        # patient record after checking identity.
        user.role = User.Role.PATIENT
        user.is_staff = False
        user.is_superuser = False
        return super().save_user(request, user, form, commit=commit)

    def is_open_for_signup(self, request) -> bool:
        # Patients join by invitation from the clinic (today a clinic admin makes the account);
        # public sign-up leaked who has an account and let anyone make one (issue 18).
        return settings.TITRATE_SIGNUP_OPEN

    def get_client_ip(self, request) -> str:
        # One reading of the client address (trusted proxy count) for rate limits, the
        # signed-in sessions list and the audit trail.
        ip = audit.client_ip(request)
        if not ip:
            return super().get_client_ip(request)
        return ip

    def pre_authenticate(self, request, **credentials) -> None:
        """Refuse before the password is checked once an address has spent its failure budget;
        spend it only in ``authentication_failed``.

        allauth reserves one unit of every ``login_failed`` rate before checking the password and
        gives it back on success, so thirty correct sign-ins in flight at once from one address
        (a clinic behind one proxy or NAT) exhausted a 10-per-minute budget meant for failures
        (issue 18). The per-account rate keeps allauth's reservation — it stops parallel guessing
        against one account, and one person signs in once at a time — while the per-address rate
        is only checked here: concurrent failures may overshoot it by the number in flight.
        """
        if not ratelimit.consume(request, action=LOGIN_FAILED_PER_ADDRESS, dry_run=True):
            raise self.validation_error("too_many_login_attempts")
        super().pre_authenticate(request, **credentials)

    def authentication_failed(self, request, **credentials) -> None:
        ratelimit.consume(request, action=LOGIN_FAILED_PER_ADDRESS)
        super().authentication_failed(request, **credentials)

    def pre_login(self, request, user, **kwargs):
        # allauth lets an active account whose backend refused it (a demo login under production
        # settings, clinic/auth_backends.py) on to the second-factor step: stop it here, as allauth
        # stops an inactive one, before any stage or session.
        if not first_run.may_sign_in(user):
            clear_login(request)
            return self.respond_user_inactive(request, user)
        return super().pre_login(request, user, **kwargs)


class MFAAdapter(DefaultMFAAdapter):
    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        # AUTHN-2: staff must keep a second factor; recovery codes alone do not count.
        if not authenticator.user.requires_mfa or authenticator.type == Authenticator.Type.RECOVERY_CODES:
            return True
        others = Authenticator.objects.filter(user=authenticator.user).exclude(pk=authenticator.pk)
        return others.exclude(type=Authenticator.Type.RECOVERY_CODES).exists()
