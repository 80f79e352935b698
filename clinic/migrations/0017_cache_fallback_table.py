"""The table of the database cache that stands in for Redis while it is down (clinic/cache.py).

Django's DatabaseCache keeps its rows in a plain table made by ``createcachetable``; making it here
means ``migrate`` is the only deployment step, as for every other table. It holds rate-limit
counters and cached counts, never PHI.
"""

from django.core.management import call_command
from django.db import migrations

TABLE = "clinic_cache_fallback"


def create_table(apps, schema_editor):
    call_command("createcachetable", TABLE, database=schema_editor.connection.alias, verbosity=0)


def drop_table(apps, schema_editor):
    schema_editor.execute(f"DROP TABLE IF EXISTS {schema_editor.quote_name(TABLE)}")


class Migration(migrations.Migration):
    dependencies = [("clinic", "0016_text_limits")]

    operations = [migrations.RunPython(create_table, drop_table)]
