"""VisitNote moves to the patients app (patients/migrations/0006): first its relations leave this
app's state, so the two models never claim the same reverse accessors. State only: no column or
table changes."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("appointments", "0008_unnoted_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.RemoveField(model_name="visitnote", name=name)
                for name in ("appointment", "author", "patient", "side_effects_reviewed", "signed_by")
            ],
        ),
    ]
