"""The "Privacy officer" group: holds clinic.view_audit_log. Add a clinic admin to it (Django
admin, Users or Groups) to let them review the audit log and emergency accesses."""

from django.db import migrations

GROUP = "Privacy officer"


def create_group(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    # Permissions are normally created after migrate (post_migrate); create it now so the
    # group can hold it. Same codename/name as AuditEvent.Meta.permissions.
    content_type, _ = ContentType.objects.get_or_create(app_label="clinic", model="auditevent")
    permission, _ = Permission.objects.get_or_create(
        content_type=content_type, codename="view_audit_log", defaults={"name": "Can review the audit log"}
    )
    group, _ = Group.objects.get_or_create(name=GROUP)
    group.permissions.add(permission)


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0007_audit_review_and_break_glass"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_group, remove_group)]
