"""On PostgreSQL the bus message keys compare byte by byte (``COLLATE "C"``: hex digits sort
alike in every collation, and the database's own collation compares through the C library,
a fifth slower per key at a claim), and lose the ``varchar_pattern_ops`` index Django makes
for a text primary key (for ``LIKE`` queries, which nothing runs on keys; one index less to
update per key). Nothing changes on SQLite, whose text comparison is already byte-wise."""

from django.db import migrations

TABLE = "exports_busmessagekey"


def _like_indexes(cursor) -> list[str]:
    cursor.execute(
        "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
        " AND tablename = %s AND indexdef LIKE %s",
        [TABLE, "%varchar_pattern_ops%"],
    )
    return [row[0] for row in cursor.fetchall()]


def forwards(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    with connection.cursor() as cursor:
        for name in _like_indexes(cursor):
            cursor.execute(f"DROP INDEX {quote(name)}")
        cursor.execute(
            f'ALTER TABLE {quote(TABLE)} ALTER COLUMN "key" TYPE varchar(32) COLLATE "C"'
        )


def backwards(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f'ALTER TABLE {quote(TABLE)} ALTER COLUMN "key" TYPE varchar(32) COLLATE "default"'
        )
        if not _like_indexes(cursor):
            cursor.execute(
                f'CREATE INDEX "exports_busmessagekey_key_like" ON {quote(TABLE)}'
                ' ("key" varchar_pattern_ops)'
            )


class Migration(migrations.Migration):
    dependencies = [
        ("exports", "0104_message_export_order_index"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
