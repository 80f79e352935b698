"""Triage a patient's words from the command line, with the portal's rules (medications.triage).

    python manage.py triage --text "rash since Tuesday" --drug Lamictal [--drug ...]
                            [--recent NAME ...] [--severity mild|moderate|severe] [--json]

With --json it prints exactly {"level": "emergency"|"urgent"|"routine", "reasons": [...]}.
An unknown drug name exits with status 2 and names the closest matches.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from medications import triage


class Command(BaseCommand):
    help = "Triage free text (and the patient's drugs and severity) as emergency, urgent or routine."
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        parser.add_argument("--text", required=True, help="What the patient wrote.")
        parser.add_argument(
            "--drug",
            action="append",
            default=[],
            metavar="NAME",
            help="A medicine the patient takes (generic or brand name, any case). Repeat for each.",
        )
        parser.add_argument(
            "--recent",
            action="append",
            default=[],
            metavar="NAME",
            help="A medicine started, raised or added in the last 14 days (counts as taken). Repeat for each.",
        )
        parser.add_argument("--severity", choices=triage.SEVERITIES, help="The patient's own rating.")
        parser.add_argument("--json", action="store_true", help='Print {"level": ..., "reasons": [...]}.')

    def handle(self, *args, **options):
        try:
            result = triage.assess_text(
                options["text"], drugs=options["drug"], severity=options["severity"], recent=options["recent"]
            )
        except triage.UnknownDrug as error:
            closest = f" Closest matches: {', '.join(error.suggestions)}." if error.suggestions else " No close match."
            raise CommandError(f"Unknown drug {error.name!r}.{closest}", returncode=2) from None
        if options["json"]:
            self.stdout.write(json.dumps({"level": result.level, "reasons": result.reasons}, ensure_ascii=False))
            return
        self.stdout.write(result.level.upper())
        for reason in result.reasons:
            self.stdout.write(f"- {reason}")
