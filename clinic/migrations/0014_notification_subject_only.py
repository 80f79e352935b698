"""Step 3 of 3 (see 0012): the outbox row's links to a visit and a waitlist offer go, with their
indexes (the appointment FK's and the partial notification_waitlist_entry); one partial index on
the subject serves what both did, and a subject is a type and an id or nothing."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0013_notification_subject_data"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="notification",
            name="notification_waitlist_entry",
        ),
        migrations.RemoveField(
            model_name="notification",
            name="appointment",
        ),
        migrations.RemoveField(
            model_name="notification",
            name="waitlist_entry",
        ),
        migrations.AddIndex(
            model_name="notification",
            index=models.Index(
                condition=models.Q(("subject_type__isnull", False)),
                fields=["subject_type", "subject_id"],
                name="notification_subject",
            ),
        ),
        migrations.AddConstraint(
            model_name="notification",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("subject_id__isnull", True), ("subject_type__isnull", True)),
                    models.Q(("subject_id__isnull", False), ("subject_type__isnull", False)),
                    _connector="OR",
                ),
                name="notification_subject_complete",
            ),
        ),
    ]
