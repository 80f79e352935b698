from django.core.management.base import BaseCommand
from django.db import transaction

from medications import formulary
from medications.models import Medication


class Command(BaseCommand):
    help = "Create or update formulary entries from medications/data/formulary.json (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        created, updated = formulary.load(Medication)
        self.stdout.write(f"Formulary: {created} created, {updated} updated.")
