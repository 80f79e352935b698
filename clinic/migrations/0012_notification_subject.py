"""The outbox row's generic subject (issue 15: the outbox sits below appointments, so it must not
point up at a visit or a waitlist offer). Step 1 of 3: the two new columns, empty.

0013 copies the old links into them, 0014 drops the old columns. Three migrations, because each
runs in its own transaction on PostgreSQL: rows written under the new deferred foreign key cannot
be followed by an ALTER TABLE of the same table in one transaction ("pending trigger events")."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0011_notification_fewer_index_writes"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AddField(
            model_name="notification",
            name="subject_id",
            field=models.PositiveBigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="notification",
            name="subject_type",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="contenttypes.contenttype",
            ),
        ),
    ]
