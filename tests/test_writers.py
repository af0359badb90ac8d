"""The format writers: exact output, neutralised formulas, roll-over sheets, bundles, reports."""

import io
import json
import zipfile
import zoneinfo
from datetime import UTC, datetime
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from django.core.exceptions import ImproperlyConfigured
from openpyxl import load_workbook
from pypdf import PdfReader

from exports.requests.vocabulary import Extension
from exports.writers import CHOICES, WRITERS, ReportInfo, Table, writer_for
from exports.writers.cells import neutralise
from exports.writers.csv import CsvWriter
from exports.writers.json import JsonWriter
from exports.writers.pdf import PdfWriter
from exports.writers.pdf.layout import fonts
from exports.writers.xlsx import DATETIME_FORMAT, XlsxWriter

ROME = zoneinfo.ZoneInfo("Europe/Rome")
# The night Rome moves to summer time: the two rows carry different offsets.
T1 = datetime(2026, 3, 29, 0, 30, tzinfo=UTC).astimezone(ROME)  # 01:30 CET
T2 = datetime(2026, 3, 29, 1, 30, 0, 250_999, tzinfo=UTC).astimezone(ROME)  # 03:30:00.250 CEST
INFO = ReportInfo(
    title="Greenhouse report",
    request_name="Greenhouse",
    timezone="Europe/Rome",
    window="2026-03-28T00:00:00+01:00 – 2026-03-29T00:00:00+01:00",
    generated_at=datetime(2026, 3, 29, 6, 0, tzinfo=UTC),
)
HEADERS = ["Device", "Ora", "Valore"]
ROWS = [("dev-1", T1, 21.5), ("dev-2", T2, None)]


def write(writer, tables, **kwargs) -> tuple[bytes, object]:
    stream = io.BytesIO()
    result = writer.write(tables, stream, INFO, **kwargs)
    return stream.getvalue(), result


def many_rows(count: int) -> list[tuple]:
    return [(f"dev-{i}", T1, float(i)) for i in range(count)]


# --- CSV --------------------------------------------------------------------------------


def test_csv_writes_header_delimiter_quoting_and_iso_times_with_offsets():
    rows = [
        ("dev;1", T1, 21.5, 'say "hi"'),
        ("dev-2", T2, None, "line\nbreak"),
        ("dev-3", T2, float("nan"), True),
        ("dev-4", T2, -5, "=1+2"),
    ]
    writer = CsvWriter(delimiter=";", bom=False)
    data, result = write(writer, [Table("data", [*HEADERS, "Nota"], rows)])
    assert data == (
        b"Device;Ora;Valore;Nota\r\n"
        b'"dev;1";2026-03-29T01:30:00.000+01:00;21.5;"say ""hi"""\r\n'
        b'dev-2;2026-03-29T03:30:00.250+02:00;;"line\nbreak"\r\n'
        b"dev-3;2026-03-29T03:30:00.250+02:00;;true\r\n"
        b"dev-4;2026-03-29T03:30:00.250+02:00;-5;'=1+2\r\n"
    )
    assert (result.rows, result.extension, result.content_type) == (
        4,
        "csv",
        "text/csv; charset=utf-8",
    )


def test_csv_is_utf8_with_a_byte_order_mark_so_excel_reads_accents_and_units():
    data, _ = write(CsvWriter(), [Table("d", ["Température °C"], [("Überlingen",), (False,)])])
    assert data == "\ufeffTempérature °C\r\nÜberlingen\r\nfalse\r\n".encode()
    assert data.startswith(b"\xef\xbb\xbf")
    assert pd.read_csv(io.BytesIO(data)).columns.tolist() == ["Température °C"]


def test_csv_without_a_byte_order_mark_when_csv_bom_is_off():
    data, _ = write(CsvWriter(bom=False), [Table("d", ["Città"], [("Überlingen",), (False,)])])
    assert data == "Città\r\nÜberlingen\r\nfalse\r\n".encode()


def test_every_csv_of_a_zip_starts_with_the_byte_order_mark():
    tables = [Table("a", ["x"], [(1,)]), Table("b", ["y"], [(2,)])]
    data, _ = write(CsvWriter(), tables, expanded=True)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert [archive.read(name)[:3] for name in archive.namelist()] == [b"\xef\xbb\xbf"] * 2


@pytest.mark.parametrize(
    "text, expected",
    [
        ("=1+2", "'=1+2"),
        ("+cmd", "'+cmd"),
        ("-cmd|' /C calc'!A0", "'-cmd|' /C calc'!A0"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-2+3", "'-2+3"),
        ("-nan", "'-nan"),
        ("-", "'-"),
        ("-5", "-5"),
        ("+3.25", "+3.25"),
        ("-1.5e-3", "-1.5e-3"),
        ("-.5", "-.5"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_formula_like_text_is_neutralised_but_numbers_are_not(text, expected):
    assert neutralise(text) == expected


def test_csv_neutralises_text_and_headers_but_never_numbers():
    rows = [("=evil()",), (-5,), (-5.5,), ("-5",), ("@x",)]
    data, _ = write(CsvWriter(bom=False), [Table("d", ["=H"], rows)])
    assert data == b"'=H\r\n'=evil()\r\n-5\r\n-5.5\r\n-5\r\n'@x\r\n"


def test_csv_accepts_pandas_and_numpy_values():
    stamp = pd.Timestamp("2026-03-29 03:30:00.5", tz="Europe/Rome")
    rows = [(stamp, np.float64(1.25), np.int64(7), np.bool_(True))]
    data, _ = write(CsvWriter(bom=False), [Table("d", ["t", "f", "i", "b"], rows)])
    assert data == b"t,f,i,b\r\n2026-03-29T03:30:00.500+02:00,1.25,7,true\r\n"


def test_naive_datetimes_are_refused_because_their_time_is_ambiguous():
    with pytest.raises(ValueError, match="naive datetime"):
        write(CsvWriter(), [Table("d", ["t"], [(datetime(2026, 1, 1),)])])


def test_values_of_unknown_types_are_refused():
    with pytest.raises(TypeError, match="cannot write a value of type object"):
        write(JsonWriter(), [Table("d", ["x"], [(object(),)])])


def test_rows_that_do_not_match_the_headers_are_refused():
    with pytest.raises(ValueError, match="a row has 2 values for 3 headers"):
        write(CsvWriter(), [Table("d", HEADERS, [("dev-1", T1)])])


@pytest.mark.parametrize("delimiter", ["", ";;", '"', "\n"])
def test_unusable_delimiters_are_refused(delimiter):
    with pytest.raises(ValueError, match="delimiter"):
        CsvWriter(delimiter=delimiter)


@pytest.mark.parametrize("extension", ["csv", "json", "xlsx", "pdf"])
def test_every_writer_refuses_to_write_no_table(extension):
    with pytest.raises(ValueError, match="no table"):
        write(WRITERS[extension](), [])


# --- JSON -------------------------------------------------------------------------------


def test_json_is_an_array_of_objects_one_per_line():
    rows = [("dev-1", T1, 21.5, True), ("dev-2", T2, None, False)]
    data, result = write(JsonWriter(), [Table("d", [*HEADERS, "ok"], rows)])
    assert data == (
        b"[\n"
        b'{"Device": "dev-1", "Ora": "2026-03-29T01:30:00.000+01:00", '
        b'"Valore": 21.5, "ok": true},\n'
        b'{"Device": "dev-2", "Ora": "2026-03-29T03:30:00.250+02:00", '
        b'"Valore": null, "ok": false}\n'
        b"]\n"
    )
    assert (result.rows, result.extension, result.content_type) == (2, "json", "application/json")


def test_json_writes_nan_and_infinity_as_null_and_keeps_numbers_and_text_exact():
    rows = [
        (float("nan"), 10**20, 'Città "quoted" \\ \n\x01'),
        (float("inf"), -0.5, "=not a formula here"),
        (float("-inf"), 1e-7, ""),
    ]
    data, _ = write(JsonWriter(), [Table("d", ["f", "n", "s"], rows)])
    assert "Città".encode() in data  # UTF-8, not \u escapes
    assert json.loads(data) == [
        {"f": None, "n": 10**20, "s": 'Città "quoted" \\ \n\x01'},
        {"f": None, "n": -0.5, "s": "=not a formula here"},
        {"f": None, "n": 1e-7, "s": ""},
    ]


def test_json_of_no_rows_is_an_empty_array():
    data, result = write(JsonWriter(), [Table("d", HEADERS, [])])
    assert data == b"[]\n"
    assert result.rows == 0


def test_json_keeps_both_values_when_two_columns_share_a_label():
    data, _ = write(JsonWriter(), [Table("d", ["value", "value"], [(1, 2)])])
    assert json.loads(data) == [{"value": 1, "value (2)": 2}]


# --- XLSX -------------------------------------------------------------------------------


def read_sheets(data: bytes) -> dict[str, list[tuple]]:
    # Write-only files record no dimension: read rows by iterating.
    workbook = load_workbook(io.BytesIO(data))
    return {ws.title: [tuple(c.value for c in row) for row in ws.iter_rows()] for ws in workbook}


def test_xlsx_writes_real_local_datetimes_with_a_millisecond_format():
    rows = [("dev-1", T1, 1.5), ("dev-2", T2, None), ("dev-3", T2, float("nan"))]
    data, result = write(XlsxWriter(), [Table("Greenhouse", HEADERS, rows)])
    sheet = load_workbook(io.BytesIO(data))["Greenhouse"]
    cells = list(sheet.iter_rows())
    assert cells[1][1].value == datetime(2026, 3, 29, 1, 30)  # local wall time, no tzinfo
    assert cells[2][1].value == datetime(2026, 3, 29, 3, 30, 0, 251_000)
    assert cells[1][1].is_date and cells[1][1].number_format == DATETIME_FORMAT
    assert cells[2][2].value is None and cells[3][2].value is None  # None and NaN: empty
    assert cells[1][2].value == 1.5 and cells[1][2].data_type == "n"
    assert result.rows == 3


def test_xlsx_header_is_bold_frozen_and_says_the_timezone_of_time_columns():
    data, _ = write(XlsxWriter(), [Table("data", HEADERS, ROWS)])
    sheet = load_workbook(io.BytesIO(data))["data"]
    header = next(sheet.iter_rows())
    assert [c.value for c in header] == HEADERS
    assert all(c.font.b for c in header)
    assert sheet.freeze_panes == "A2"
    assert header[1].comment.text == "Local time in Europe/Rome"
    assert header[0].comment is None
    assert sheet.column_dimensions["B"].width >= 23  # wide enough to show the time, not ####


def test_xlsx_stores_formula_like_text_as_neutralised_text_and_keeps_other_types():
    rows = [("=1+2", 7, True), ("-5", -5, False), ("bell\x07", None, None)]
    data, _ = write(XlsxWriter(), [Table("data", ["=s", "n", "b"], rows)])
    cells = list(load_workbook(io.BytesIO(data))["data"].iter_rows())
    assert cells[0][0].value == "'=s"
    assert (cells[1][0].value, cells[1][0].data_type) == ("'=1+2", "s")  # text, not a formula
    assert (cells[1][1].value, cells[1][2].value) == (7, True)
    assert (cells[2][0].value, cells[2][1].value, cells[2][2].value) == ("-5", -5, False)
    assert cells[3][0].value == "bell\ufffd"  # a control character XML cannot hold


def test_xlsx_continues_on_new_sheets_past_the_row_limit(settings):
    settings.EXPORTS_XLSX_MAX_ROWS = 3
    data, result = write(XlsxWriter(), [Table("data", HEADERS, many_rows(7))])
    sheets = read_sheets(data)
    assert list(sheets) == ["data", "data (2)", "data (3)"]
    assert [rows[0] for rows in sheets.values()] == [tuple(HEADERS)] * 3  # header repeated
    data_rows = [row for rows in sheets.values() for row in rows[1:]]
    assert [row[0] for row in data_rows] == [f"dev-{i}" for i in range(7)]  # none lost
    assert result.rows == 7


def test_xlsx_fills_a_sheet_exactly_before_rolling_over(settings):
    settings.EXPORTS_XLSX_MAX_ROWS = 3
    data, _ = write(XlsxWriter(), [Table("data", HEADERS, many_rows(3))])
    assert list(read_sheets(data)) == ["data"]


@pytest.mark.parametrize("limit", [0, 1_048_576])
def test_xlsx_refuses_a_row_limit_excel_cannot_hold(settings, limit):
    settings.EXPORTS_XLSX_MAX_ROWS = limit
    with pytest.raises(ImproperlyConfigured):
        XlsxWriter()


def test_xlsx_expanded_gives_one_sheet_per_table_with_safe_unique_names(settings):
    settings.EXPORTS_XLSX_MAX_ROWS = 1
    tables = [
        Table("a/b:c", HEADERS, ROWS[:1]),
        Table("A/B:C", HEADERS, []),
        Table("x" * 40, HEADERS, ROWS),
        Table("'History'", HEADERS, []),
    ]
    data, _ = write(XlsxWriter(), tables, expanded=True)
    sheets = read_sheets(data)
    assert list(sheets) == ["a_b_c", "A_B_C (2)", "x" * 31, "x" * 27 + " (2)", "History_"]
    assert sheets["A_B_C (2)"] == [tuple(HEADERS)]  # an empty table keeps its header


# --- Bundles ----------------------------------------------------------------------------


@pytest.mark.parametrize("extension", ["csv", "json"])
def test_expanded_text_formats_are_zipped_one_file_per_table(extension):
    tables = [Table("Temp", HEADERS, ROWS), Table("a/../Hum", HEADERS, ROWS[:1])]
    writer = WRITERS[extension]()
    data, result = write(writer, tables, expanded=True)
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.namelist() == [f"Temp.{extension}", f"a_.._Hum.{extension}"]
    assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_DEFLATED}
    assert (result.rows, result.extension, result.content_type) == (3, "zip", "application/zip")
    single, _ = write(writer, [Table("Hum", HEADERS, ROWS[:1])])
    assert archive.read(f"a_.._Hum.{extension}") == single


def test_zip_members_named_alike_get_numbered():
    tables = [Table("Temp", HEADERS, []), Table("temp", HEADERS, []), Table("", HEADERS, [])]
    data, _ = write(CsvWriter(), tables, expanded=True)
    assert zipfile.ZipFile(io.BytesIO(data)).namelist() == ["Temp.csv", "temp (2).csv", "data.csv"]


def test_several_tables_of_the_tabular_template_are_zipped_too():
    # A tabular request mixing long and wide items gets two tables.
    tables = [Table("Greenhouse", HEADERS, ROWS), Table("Greenhouse (wide)", ["Ora"], [(T1,)])]
    data, result = write(JsonWriter(), tables)
    assert result.extension == "zip"
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert names == ["Greenhouse.json", "Greenhouse (wide).json"]


# --- PDF --------------------------------------------------------------------------------


def pdf_pages(data: bytes) -> list[str]:
    """The text of each page, runs of white space made one space (the page total is a
    separate PDF form, which text extraction puts on a line of its own)."""
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages]


def test_pdf_is_a_paged_report_with_a_title_block_and_the_header_on_every_page():
    data, result = write(PdfWriter(), [Table("data", HEADERS, many_rows(1200))])
    assert data.startswith(b"%PDF")
    pages = pdf_pages(data)
    assert len(pages) > 10
    first = pages[0]
    for fact in ("Greenhouse report", "Greenhouse", "Europe/Rome", INFO.window):
        assert fact in first
    assert "2026-03-29 08:00" in first  # generated at, in the request's timezone
    assert all("Device" in page and "Valore" in page for page in pages)
    assert f"Page 1 of {len(pages)}" in first
    assert f"Page {len(pages)} of {len(pages)}" in pages[-1]
    assert "2026-03-29 01:30" in first and "dev-1199" in pages[-1]
    assert "+01:00" not in first.split("Valore", 1)[1]  # the zone is stated once, above
    assert result.rows == 1200


def test_pdf_turns_to_landscape_only_when_the_columns_need_it():
    narrow, _ = write(PdfWriter(), [Table("d", HEADERS, ROWS)])
    wide_headers = [f"label {i}" for i in range(8)]
    cells = tuple(f"a rather long text value number {i}" for i in range(8))
    wide, _ = write(PdfWriter(), [Table("d", wide_headers, [cells])])
    portrait = PdfReader(io.BytesIO(narrow)).pages[0].mediabox
    landscape = PdfReader(io.BytesIO(wide)).pages[0].mediabox
    assert portrait.width < portrait.height
    assert landscape.width > landscape.height


def test_pdf_expanded_has_a_section_per_table_and_says_when_one_is_empty():
    tables = [Table("Temperature", HEADERS, ROWS), Table("Humidity", HEADERS, [])]
    data, result = write(PdfWriter(), tables, expanded=True)
    text = " ".join(pdf_pages(data))
    assert text.index("Temperature") < text.index("dev-1") < text.index("Humidity")
    assert "No rows." in text
    assert result.rows == 2


def test_pdf_cuts_long_text_but_rounds_long_numbers():
    rows = [("x" * 400, 1 / 3, T1), ("short", 123456789012.5, T2)]
    data, _ = write(PdfWriter(), [Table("d", HEADERS, rows)])
    text = pdf_pages(data)[0]
    assert "x" * 20 + "…" in text and "x" * 400 not in text
    assert "0.333333" in text and "123456789012" in text
    assert "2026-03-29 03:30:00.250" in text  # times are never cut


@pytest.mark.skipif(fonts().regular == "Helvetica", reason="no DejaVu font installed")
def test_pdf_prints_text_beyond_latin_1_with_an_embedded_font():
    info = ReportInfo("CO₂ report", "Теплица", "Europe/Rome", "w", INFO.generated_at)
    stream = io.BytesIO()
    PdfWriter().write([Table("Температура", ["CO₂ ppm"], [(415.5,)])], stream, info, expanded=True)
    text = pdf_pages(stream.getvalue())[0]
    assert "CO₂ report" in text and "Теплица" in text and "Температура" in text


def test_pdf_reports_progress_as_pages_are_drawn():
    seen = []
    write(PdfWriter(), [Table("d", HEADERS, many_rows(12_000))], progress=seen.append)
    assert seen == [5000, 10000]


# --- Progress and registry --------------------------------------------------------------


@pytest.mark.parametrize("extension", ["csv", "json", "xlsx"])
def test_progress_is_reported_about_every_5000_rows_across_tables(extension):
    seen = []
    tables = [Table("a", HEADERS, many_rows(12_000)), Table("b", HEADERS, many_rows(3_000))]
    write(WRITERS[extension](), tables, expanded=True, progress=seen.append)
    assert seen == [5000, 10000, 15000]


def test_every_extension_has_a_writer_and_choices_come_from_the_registry():
    assert set(WRITERS) == set(Extension.values)
    assert dict(CHOICES)["xlsx"] == "Excel (XLSX)"


def test_writer_for_a_request_resolves_aliases_and_passes_the_delimiter():
    writer = writer_for(SimpleNamespace(extension="csv", csv_delimiter="\t"))
    assert isinstance(writer, CsvWriter) and writer.delimiter == "\t"
    assert isinstance(writer_for(SimpleNamespace(extension="xls", csv_delimiter=",")), XlsxWriter)


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        (1e26, 2, "1" + "0" * 26 + ".00"),  # the shortest form, not the binary value
        (-1.5e30, 0, "-15" + "0" * 29),
        (1.7976931348623157e308, 1, "17976931348623157" + "0" * 292 + ".0"),
        (10**30, 3, "1" + "0" * 30 + ".000"),
    ],
)
def test_fixed_decimals_write_huge_numbers_instead_of_failing(value, decimals, expected):
    from exports.writers.cells import fixed

    assert fixed(value, decimals) == expected
