from django.core.management.base import BaseCommand
from django.db import transaction

from medications import formulary, outside
from medications.models import Medication


class Command(BaseCommand):
    help = "Create or update formulary entries from medications/data/formulary.json (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        created, updated = formulary.load(Medication)
        self.stdout.write(f"Formulary: {created} created, {updated} updated.")
        # Outside medications recorded under a name the formulary did not know may be known now.
        coded = outside.code_known_names()
        self.stdout.write(f"Outside medications newly coded to the formulary: {coded}.")
