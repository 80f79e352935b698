from allauth.account.adapter import DefaultAccountAdapter

from clinic.models import User


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        # Self-registration only ever creates patient accounts; staff accounts
        # are made by a clinic admin. The clinic links the account to a
        # patient record after checking identity.
        user.role = User.Role.PATIENT
        user.is_staff = False
        user.is_superuser = False
        return super().save_user(request, user, form, commit=commit)
