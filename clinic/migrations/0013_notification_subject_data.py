"""Step 2 of 3 (see 0012): each row's visit or waitlist offer becomes its subject, and back.

A row names a visit or an offer, never both (the planners set one); a row naming both would lose
one, so the migration stops instead. Two UPDATEs per direction, whatever the table's size."""

from django.db import migrations
from django.db.models import F

# (old column's field, the subject's content type)
LINKS = (("appointment", ("appointments", "appointment")), ("waitlist_entry", ("appointments", "waitlistentry")))


def links_to_subjects(apps, schema_editor):
    Notification = apps.get_model("clinic", "Notification")
    ContentType = apps.get_model("contenttypes", "ContentType")
    rows = Notification.objects.using(schema_editor.connection.alias)
    both = rows.filter(appointment__isnull=False, waitlist_entry__isnull=False).count()
    if both:
        raise RuntimeError(f"{both} notifications name both a visit and a waitlist offer; a row has one subject.")
    for field, (app_label, model) in LINKS:
        about = rows.filter(**{f"{field}__isnull": False})
        if about.exists():
            # A database whose content types were never created (post_migrate runs after this).
            subject_type, _ = ContentType.objects.using(rows.db).get_or_create(app_label=app_label, model=model)
            about.update(subject_type=subject_type, subject_id=F(f"{field}_id"))


def subjects_to_links(apps, schema_editor):
    """Rows about anything else (none before 0012) keep no subject going back."""
    Notification = apps.get_model("clinic", "Notification")
    ContentType = apps.get_model("contenttypes", "ContentType")
    rows = Notification.objects.using(schema_editor.connection.alias)
    for field, (app_label, model) in LINKS:
        subject_type = ContentType.objects.using(rows.db).filter(app_label=app_label, model=model).first()
        if subject_type is not None:
            rows.filter(subject_type=subject_type).update(**{f"{field}_id": F("subject_id")})


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0012_notification_subject"),
    ]

    operations = [
        migrations.RunPython(links_to_subjects, subjects_to_links, elidable=False),
    ]
