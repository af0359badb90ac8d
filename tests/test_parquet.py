"""Parquet (issue 21 §3): typed columns in the request's order and labels, times in its zone,
values float64 with text and booleans in their own columns, read back by pyarrow, pandas and
DuckDB, streamed in row groups, one file per item for ``expanded``."""

import io
import zipfile
from datetime import UTC, datetime, timedelta

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from exports.models import JobStatus, Message
from exports.queue.runner import create_job, run_job
from exports.requests.dump import dump_request
from exports.requests.schema import parse_request
from exports.requests.spec import save_spec
from exports.rows.tables import ReportInfo, Table
from exports.writers import WRITERS, writer_for
from exports.writers.parquet import ParquetWriter

pytestmark = pytest.mark.django_db
CHANNEL = "chan-pq"
START = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)  # Europe/Rome springs forward at 01:00 UTC
SLOT = START + timedelta(hours=4)
TIME_VALUE = [{"id": "time", "label": "time"}, {"id": "value", "label": "value"}]


@pytest.fixture
def readings(db):
    rows = [
        Message(
            channel=CHANNEL,
            subtopic="s",
            publisher=device,
            name="temperature",
            unit="Cel",
            time=START + timedelta(minutes=30 * i, milliseconds=250 * (i % 2)),
            value=[24.98, 25.0, 25.1, 12345678.123, 20.0, 20.191, float("nan"), -1.5][i],
        )
        for device in ("dev-1", "dev-2")
        for i in range(8)
    ]
    rows += [
        Message(
            channel=CHANNEL,
            subtopic="s",
            publisher="dev-1",
            name="state",
            time=START + timedelta(minutes=30 * i + 1),
            string_value="=open" if i % 3 == 0 else None,
            bool_value=True if i % 3 == 1 else None,
            data_value="ZGF0YQ==" if i % 3 == 2 else None,
        )
        for i in range(6)
    ]
    Message.objects.bulk_create(rows)


def export(owner, *, items=None, columns=None, **fmt):
    data = {
        "name": "Température",
        "type": "oneTime",
        "format": {"extension": "parquet", "timezone": "Europe/Rome", **fmt},
        "items": items
        or [
            {
                "params": {
                    "target": {"value": "temperature"},
                    "channelId": CHANNEL,
                    "subtopic": "s",
                    "period": "PT4H",
                }
            }
        ],
    }
    if columns is not None:
        data["format"]["columns"] = columns
    return save_spec(parse_request(data, owner=owner))


def run(request):
    job = run_job(create_job(request, SLOT).pk)
    assert job.status == JobStatus.DONE, job.error
    with job.file.open("rb") as fh:
        return job, fh.read()


def test_parquet_is_a_format_of_the_vocabulary_the_schema_and_the_writers(alice):
    request = export(alice)
    assert request.extension == "parquet"
    assert dump_request(request)["format"]["extension"] == "parquet"
    assert WRITERS["parquet"] is ParquetWriter
    assert isinstance(writer_for(request), ParquetWriter)


def test_a_long_export_has_typed_columns_in_the_requests_order_and_labels(alice, readings):
    columns = [
        {"id": "time", "label": "Zeit"},
        {"id": "value", "label": "Wert"},
        {"id": "publisher", "label": "Gerät"},
        {"id": "name", "label": "name"},
        {"id": "unit", "label": "unit"},
        {"id": "created", "label": "created"},
    ]
    job, data = run(export(alice, columns=columns))
    assert job.file.name.endswith(".parquet") and job.row_count == 16
    table = pq.read_table(io.BytesIO(data))
    assert table.column_names == ["Zeit", "Wert", "Gerät", "name", "unit", "created"]
    assert table.schema.field("Zeit").type == pa.timestamp("us", tz="Europe/Rome")
    assert table.schema.field("created").type == pa.timestamp("us", tz="Europe/Rome")
    assert table.schema.field("Wert").type == pa.float64()
    assert table.schema.field("Gerät").type == pa.string()
    frame = table.to_pandas()
    assert str(frame["Zeit"].dt.tz) == "Europe/Rome"
    # 01:00 UTC is 03:00 CEST on the spring-forward day; milliseconds are kept.
    assert frame["Zeit"][2].isoformat() == "2026-03-29T01:30:00.250000+01:00"
    assert frame["Zeit"][4].isoformat() == "2026-03-29T03:00:00+02:00"
    assert list(frame["Wert"][:8:2]) == [24.98, 25.0, 25.1, 12345678.123]
    assert frame["Wert"][12:14].isna().all()  # NaN is written as null, as in CSV and JSON
    assert set(frame["Gerät"]) == {"dev-1", "dev-2"} and set(frame["unit"]) == {"Cel"}


def test_text_and_boolean_values_get_their_own_columns(alice, readings):
    items = [
        {
            "params": {
                "target": {"value": "state"},
                "channelId": CHANNEL,
                "subtopic": "s",
                "period": "PT4H",
            }
        }
    ]
    _, data = run(export(alice, items=items, columns=TIME_VALUE))
    table = pq.read_table(io.BytesIO(data))
    assert table.column_names == ["time", "value", "value (text)", "value (bool)"]
    assert table.schema.field("value (bool)").type == pa.bool_()
    rows = table.to_pylist()
    texts = ["=open", None, "ZGF0YQ==", "=open", None, "ZGF0YQ=="]  # as stored: no quote
    assert [row["value (text)"] for row in rows] == texts
    assert [row["value (bool)"] for row in rows] == [None, True, None, None, True, None]
    assert all(row["value"] is None for row in rows)
    # A numeric-only export has no such columns.
    _, data = run(export(alice, columns=TIME_VALUE))
    assert pq.read_schema(io.BytesIO(data)).names == ["time", "value"]


def test_a_wide_export_has_one_float_column_per_series(alice, readings):
    items = [
        {
            "params": {
                "target": {"value": "temperature"},
                "channelId": CHANNEL,
                "subtopic": "s",
                "period": "PT4H",
                "outputFormat": "wide",
            },
        }
    ]
    _, data = run(export(alice, items=items))
    table = pq.read_table(io.BytesIO(data))
    assert table.num_rows == 8
    assert table.schema.field(0).type == pa.timestamp("us", tz="Europe/Rome")
    assert [field.type for field in table.schema][1:] == [pa.float64(), pa.float64()]


def test_a_decimated_export_is_numeric(alice, readings):
    items = [
        {
            "params": {
                "target": {"value": "temperature"},
                "channelId": CHANNEL,
                "subtopic": "s",
                "period": "PT4H",
                "decimation": {"ds": "1h", "dsf": "avg"},
            },
        }
    ]
    _, data = run(export(alice, items=items, columns=TIME_VALUE))
    table = pq.read_table(io.BytesIO(data))
    assert table.column_names == ["time", "value"]
    assert table.num_rows > 0


def test_expanded_gives_a_zip_with_one_parquet_file_per_item(alice, readings):
    params = {"channelId": CHANNEL, "subtopic": "s", "period": "PT4H"}
    items = [
        {"params": {**params, "target": {"value": "temperature"}}, "filename": "temp"},
        {"params": {**params, "target": {"value": "state"}}, "filename": "state"},
    ]
    job, data = run(export(alice, items=items, template="expanded"))
    assert job.file.name.endswith(".zip") and job.row_count == 22
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == ["temp.parquet", "state.parquet"]
        assert {info.date_time for info in archive.infolist()} == {(2026, 3, 29, 4, 0, 0)}
        temp = pq.read_table(io.BytesIO(archive.read("temp.parquet")))
        state = pq.read_table(io.BytesIO(archive.read("state.parquet")))
    assert temp.num_rows == 16 and state.num_rows == 6
    assert "value (text)" in state.column_names and "value (text)" not in temp.column_names


def test_an_empty_export_is_a_valid_file_with_the_schema(alice, readings):
    items = [
        {
            "params": {
                "target": {"value": "nothing"},
                "channelId": CHANNEL,
                "subtopic": "s",
                "period": "PT4H",
            }
        }
    ]
    job, data = run(export(alice, items=items))
    assert job.row_count == 0
    table = pq.read_table(io.BytesIO(data))
    assert table.num_rows == 0
    assert table.column_names == ["publisher", "channel", "name", "time", "value", "created"]


def test_a_rerun_of_the_slot_gives_the_same_bytes(alice, readings):
    request = export(alice)
    first_job, first = run(request)
    first_job.delete()
    assert run(request)[1] == first


def test_pandas_and_duckdb_read_it_back(alice, readings, tmp_path):
    _, data = run(export(alice))
    path = tmp_path / "export.parquet"
    path.write_bytes(data)
    frame = pd.read_parquet(path)
    assert len(frame) == 16 and str(frame["time"].dt.tz) == "Europe/Rome"
    duckdb = pytest.importorskip("duckdb")
    connection = duckdb.connect()
    count, total = connection.execute(
        f"SELECT count(*), round(sum(value), 3) FROM read_parquet('{path}')"
    ).fetchone()
    assert count == 16
    assert total == round(sum(frame["value"].dropna()), 3)
    kind = connection.execute(f"DESCRIBE SELECT time FROM read_parquet('{path}')").fetchone()[1]
    assert kind == "TIMESTAMP WITH TIME ZONE"


def test_row_groups_are_streamed_a_chunk_at_a_time():
    """Memory stays flat: the writer writes one row group per chunk, never the whole table."""

    class Small(ParquetWriter):
        chunk_rows = 1000

    clock_zone = "Europe/Rome"
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = ([start + timedelta(seconds=i), float(i), "dev"] for i in range(4500))
    table = Table("t", ["time", "value", "publisher"], rows, kinds=["time", "value", "text"])
    table.value_types = lambda: frozenset()
    seen = []
    stream = io.BytesIO()
    info = ReportInfo("t", "t", clock_zone, "", start, slot=start)
    result = Small().write([table], stream, info, progress=seen.append)
    assert result.rows == 4500 and result.extension == "parquet"
    metadata = pq.ParquetFile(io.BytesIO(stream.getvalue())).metadata
    assert metadata.num_row_groups == 5
    assert [metadata.row_group(i).num_rows for i in range(5)] == [1000] * 4 + [500]
    assert seen == [1000, 2000, 3000, 4000]
