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


def _alter(schema_editor, collation: str, like_index: bool) -> None:
    """On PostgreSQL: the key column's collation set, and its LIKE index dropped or made."""
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    table = schema_editor.quote_name(TABLE)
    with connection.cursor() as cursor:
        existing = _like_indexes(cursor)
        for name in [] if like_index else existing:
            cursor.execute(f"DROP INDEX {schema_editor.quote_name(name)}")
        cursor.execute(f'ALTER TABLE {table} ALTER COLUMN "key" TYPE varchar(32) COLLATE "{collation}"')
        if like_index and not existing:
            cursor.execute(
                f'CREATE INDEX "exports_busmessagekey_key_like" ON {table} ("key" varchar_pattern_ops)'
            )


def forwards(apps, schema_editor):
    _alter(schema_editor, "C", like_index=False)


def backwards(apps, schema_editor):
    _alter(schema_editor, "default", like_index=True)


class Migration(migrations.Migration):
    dependencies = [
        ("exports", "0104_message_export_order_index"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
