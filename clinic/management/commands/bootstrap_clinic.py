"""The first clinic admin and the clinic's profile, from the server's terminal (docs/deployment.md)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from clinic import first_run
from clinic.models import User


class Command(BaseCommand):
    help = (
        "Start a real clinic: create its first clinic admin (no password: a one-time sign-in link is "
        "printed here) and save the clinic's name, phone and time zone, the admin on call. Refused "
        "once a clinic admin or a clinic profile exists. --new-link EMAIL prints a fresh link for "
        "an admin who has not signed in yet."
    )

    def add_arguments(self, parser):
        parser.add_argument("--email", help="The first clinic admin's email (their login).")
        parser.add_argument("--first-name", default="", help="The admin's first name.")
        parser.add_argument("--last-name", default="", help="The admin's last name.")
        parser.add_argument("--clinic-name", help="The clinic's name, as patients see it.")
        parser.add_argument("--phone", help="The number patients are told to call, e.g. '(617) 555-0100'.")
        parser.add_argument(
            "--time-zone",
            default=settings.TITRATE_DEFAULT_TIME_ZONE,
            help="The clinic's IANA time zone (default: TITRATE_DEFAULT_TIME_ZONE, %(default)s).",
        )
        parser.add_argument("--new-link", metavar="EMAIL", help="Only print a new one-time link for this admin.")

    def handle(self, *args, **options):
        if options["new_link"]:
            self._new_link(options["new_link"])
            return
        missing = [f"--{name}" for name in ("email", "clinic-name", "phone") if not options[name.replace("-", "_")]]
        if missing:
            raise CommandError(f"Missing {', '.join(missing)}. Nothing was created.")
        found = first_run.existing()
        if found.admins or found.profile:
            raise CommandError(self._already(found))
        errors = first_run.clean_clinic(
            email=options["email"],
            clinic_name=options["clinic_name"],
            phone=options["phone"],
            time_zone=options["time_zone"],
        )
        if errors:
            lines = "\n".join(f"  --{name}: {message}" for name, message in errors.items())
            raise CommandError(f"Nothing was created:\n{lines}")
        try:
            admin = first_run.bootstrap(
                email=options["email"],
                first_name=options["first_name"],
                last_name=options["last_name"],
                clinic_name=options["clinic_name"],
                phone=options["phone"],
                time_zone=options["time_zone"],
            )
        except first_run.AlreadyBootstrapped as error:  # another run got there in between
            raise CommandError(self._already(error.found)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Clinic '{options['clinic_name'].strip()}' saved (phone {options['phone'].strip()}, "
                f"time zone {options['time_zone']}); {admin.email} is its clinic admin and on-call contact."
            )
        )
        self._print_link(admin)

    def _new_link(self, email: str) -> None:
        admin = User.objects.filter(email__iexact=email).first()
        if admin is None:
            raise CommandError(f"No account has the email {email}.")
        self._print_link(admin)

    def _print_link(self, admin: User) -> None:
        try:
            link = first_run.sign_in_link(admin)
        except first_run.LinkRefused as error:
            raise CommandError(str(error)) from None
        days = settings.PASSWORD_RESET_TIMEOUT // 86400
        self.stdout.write(
            "\nGive this link to the admin; treat it like a password. It works once, for "
            f"{days} days:\n\n  {link}\n\n"
            "It opens 'set your password'. They then sign in with the email and that password, and "
            "the portal has them set up an authenticator app (TOTP) before any page: have a phone ready. "
            "No email is needed. For a fresh link: manage.py bootstrap_clinic --new-link "
            f"{admin.email}\n"
        )

    @staticmethod
    def _already(found: first_run.FirstRun) -> str:
        lines = ["This clinic is already set up; nothing was changed."]
        if found.admins:
            lines.append("Clinic admins: " + "; ".join(found.admins) + ".")
        if found.profile:
            lines.append(f"Clinic profile: {found.profile}.")
        lines.append(
            "Invite more people and edit the clinic in the portal. An admin who never signed in can get "
            "a new link: manage.py bootstrap_clinic --new-link EMAIL"
        )
        return "\n".join(lines)
