"""Issue 22: a questionnaire response records the language it was answered in, and
preferred_language becomes a choice (en/es) instead of free text, and the linked
account's User.language follows it. Free text naming Spanish ("Spanish", "Español", "es",
"spanish (Mexico)") becomes "es"; everything else becomes "en", the only other language the
portal can show (a record that named a third language keeps it in no field: the count is printed
so the front desk can note an interpreter need where it belongs)."""

import unicodedata

from django.db import migrations, models


def _folded(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text or "") if not unicodedata.combining(c)).lower()


def is_spanish(text: str) -> bool:
    folded = _folded(text).strip()
    return folded in ("es", "spa", "sp") or folded.startswith("es-") or "spanish" in folded or "espanol" in folded


def to_codes(apps, schema_editor):
    Patient = apps.get_model("patients", "Patient")
    User = apps.get_model("clinic", "User")
    spanish, other = [], 0
    for pk, user_id, text in Patient.objects.values_list("pk", "user_id", "preferred_language").iterator():
        if is_spanish(text):
            spanish.append((pk, user_id))
        elif _folded(text).strip() not in ("", "en", "english", "ingles") and not _folded(text).startswith("en-"):
            other += 1
    Patient.objects.exclude(pk__in=[pk for pk, _ in spanish]).update(preferred_language="en")
    Patient.objects.filter(pk__in=[pk for pk, _ in spanish]).update(preferred_language="es")
    User.objects.filter(pk__in=[user_id for _, user_id in spanish if user_id]).update(language="es")
    if other:
        print(f"\n  {other} patient record(s) named a language other than English or Spanish: now English.")


def to_text(apps, schema_editor):
    Patient = apps.get_model("patients", "Patient")
    Patient.objects.filter(preferred_language="es").update(preferred_language="Spanish")
    Patient.objects.exclude(preferred_language="Spanish").update(preferred_language="English")


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0015_i20refills_medication_reconciliation"),
        ("clinic", "0026_i22i18n_language"),
    ]

    operations = [
        migrations.RunPython(to_codes, to_text),
        migrations.AlterField(
            model_name="patient",
            name="preferred_language",
            field=models.CharField(choices=[("en", "English"), ("es", "Español")], default="en", max_length=5),
        ),
        migrations.AddField(
            model_name="questionnaireresponse",
            name="language",
            field=models.CharField(choices=[("en", "English"), ("es", "Español")], default="en", max_length=5),
        ),
    ]
