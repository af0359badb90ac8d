"""Wide tables carry the ``timeUtc`` and ``epoch`` columns a request selects, as long tables
do, in every format; XLSX shows ``epoch`` as a whole number. Every file is made by a real job
and read back with the tool its users read it with (pandas, openpyxl, pdftotext, json)."""

import io
import json
from datetime import UTC, datetime

import pandas as pd
import pytest
from openpyxl import load_workbook

from tests.test_files_people_read import (
    COLUMNS,
    ROME_START,
    VALUES,
    content,
    export,
    pdftotext,
    readings,
    run,
)

pytestmark = pytest.mark.django_db

# The UTC time before the local one: the request's order, not the local time first. The
# device and channel columns describe one message: they do not apply to a wide row.
WIDE_COLUMNS = [
    {"id": "publisherName", "label": "Device"},
    {"id": "timeUtc", "label": "time UTC"},
    {"id": "time", "label": "local"},
    {"id": "channelName", "label": "Channel"},
    {"id": "epoch", "label": "epoch ms"},
    {"id": "value", "label": "value"},
]
VALUE_HEADERS = ["temperature (Greenhouse north)", "temperature (Greenhouse south)"]
HEADERS = ["time UTC", "local", "epoch ms", *VALUE_HEADERS]
FIRST_UTC = "2026-10-24T22:00:00.000Z"
FIRST_EPOCH = int(ROME_START.timestamp() * 1000)


def wide_frame(alice, extension: str) -> pd.DataFrame:
    readings(ROME_START)
    data = content(run(export(alice, extension, wide=True, columns=WIDE_COLUMNS)))
    if extension == "csv":
        return pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    if extension == "json":
        rows = json.loads(data)
        assert list(rows[0]) == HEADERS
        return pd.DataFrame(rows)
    return pd.read_parquet(io.BytesIO(data))


@pytest.mark.parametrize("extension", ["csv", "json", "parquet"])
def test_wide_tables_carry_utc_and_epoch_in_the_requests_order(alice, extension):
    frame = wide_frame(alice, extension)
    assert frame.columns.tolist() == HEADERS
    assert len(frame) == 8  # one row per timestamp, both devices on it
    assert frame["temperature (Greenhouse north)"].tolist() == VALUES
    assert frame["time UTC"][0] == FIRST_UTC
    assert str(frame["epoch ms"].dtype) == "int64"
    assert frame["epoch ms"][0] == FIRST_EPOCH
    local = pd.to_datetime(frame["local"], utc=True)
    assert (pd.to_datetime(frame["time UTC"]) == local).all()
    assert (pd.to_datetime(frame["epoch ms"], unit="ms", utc=True) == local).all()


def test_wide_parquet_types_the_columns_as_long_tables_do(alice):
    frame = wide_frame(alice, "parquet")
    assert str(frame["local"].dtype) == "datetime64[us, Europe/Rome]"
    assert frame["time UTC"].map(type).eq(str).all()


def test_wide_xlsx_keeps_the_offset_beside_the_local_time_and_epoch_whole(alice):
    readings(ROME_START)
    job = run(export(alice, "xlsx", wide=True, columns=WIDE_COLUMNS))
    sheet = load_workbook(io.BytesIO(content(job))).active
    rows = list(sheet.iter_rows(min_row=1))
    header = [cell.value for cell in rows[0]]
    assert header == ["time UTC", "local", "UTC offset", "epoch ms", *VALUE_HEADERS]
    first = [cell.value for cell in rows[1]]
    assert first[:4] == [FIRST_UTC, datetime(2026, 10, 25, 0, 0), "+02:00", FIRST_EPOCH]
    offsets = {row[2].value for row in rows[1:]}
    assert offsets == {"+02:00", "+01:00"}  # the clock change: the wall time alone repeats
    epoch = rows[1][3]
    assert type(epoch.value) is int and epoch.number_format == "0"


def test_wide_pdf_shows_utc_and_epoch(alice):
    readings(ROME_START)
    text = pdftotext(content(run(export(alice, "pdf", wide=True, columns=WIDE_COLUMNS))))
    lines = " ".join(text.split())
    assert "time UTC" in lines and "epoch ms" in lines and "Device" not in lines
    assert FIRST_UTC in text and str(FIRST_EPOCH) in text


def test_xlsx_epoch_of_long_tables_is_a_whole_number_even_with_fixed_decimals(alice):
    readings(ROME_START)
    job = run(export(alice, "xlsx", columns=COLUMNS, decimals=2))
    sheet = load_workbook(io.BytesIO(content(job))).active
    rows = list(sheet.iter_rows(min_row=1, max_row=2))
    header = [cell.value for cell in rows[0]]
    epoch, value = rows[1][header.index("epoch ms")], rows[1][header.index("value")]
    assert type(epoch.value) is int and epoch.number_format == "0"
    assert epoch.value == int(datetime(2026, 10, 24, 22, tzinfo=UTC).timestamp() * 1000)
    assert value.number_format == "0.00"  # the values keep the requested decimals
