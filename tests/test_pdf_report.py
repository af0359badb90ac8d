"""The PDF as a report (issue 18, item 5): a header above the first table, per series a summary
and a line chart, then the table with units in its headers and numbers aligned right.

Every file is made by a real job from stored messages and read back as its readers do:
``pdftotext -layout`` for the text, ``pdftotext -bbox`` for positions, the page's content
stream for the chart's vector paths and ``pdftoppm`` for its pixels. Summary figures are
checked against a computation of our own from the stored messages."""

import io
import re
import statistics
import subprocess
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from exports.data.catalog import record_messages
from exports.models import Channel, ExportJob, JobStatus, Message, Publisher
from exports.queue.runner import create_job, run_job
from exports.requests.schema import parse_request
from exports.requests.spec import save_spec
from exports.rows.tables import ReportInfo, Table
from exports.writers.pdf import PdfWriter
from exports.writers.pdf.chart import decimate

pytestmark = pytest.mark.django_db

ROME = ZoneInfo("Europe/Rome")
CHANNEL = "6b1f0f3a-0000-4000-8000-00000000c0de"
DEVICES = ("a3c9e0d2-5b7f-4e61-8c2a-1f0000000001", "a3c9e0d2-5b7f-4e61-8c2a-1f0000000002")
NAMES = ("Greenhouse north", "Greenhouse south")
START = datetime(2026, 10, 24, 22, 0, tzinfo=UTC)  # 00:00 in Rome, the day of the autumn change
SLOT = datetime(2026, 10, 25, 23, 0, tzinfo=UTC)  # the next local midnight
COLUMNS = [
    {"id": "publisherName", "label": "Device"},
    {"id": "channelName", "label": "Channel"},
    {"id": "time", "label": "time"},
    {"id": "timeUtc", "label": "time UTC"},
    {"id": "value", "label": "value"},
]


def value(device: int, i: int) -> float:
    """Readings with up to three decimals, a whole number now and then, and a spike."""
    if i == 40:
        return 55.0
    return round(18 + device * 1.5 + (i % 17) * 0.125 + (i % 5) * 0.001, 3)


def store(points: int = 48, every: timedelta = timedelta(minutes=30)) -> None:
    """Two named devices of one named channel, ``points`` temperature readings each."""
    messages = Message.objects.bulk_create(
        Message(
            channel=CHANNEL,
            subtopic="s",
            publisher=publisher,
            name="temperature",
            unit="Cel",
            time=START + every * i,
            value=value(device, i),
        )
        for device, publisher in enumerate(DEVICES)
        for i in range(points)
    )
    record_messages(messages)
    Channel.objects.filter(channel_id=CHANNEL).update(name="Greenhouse")
    for publisher, name in zip(DEVICES, NAMES, strict=True):
        Publisher.objects.filter(publisher_id=publisher).update(name=name)


def export(owner, *, targets=("temperature",), wide=False, columns=COLUMNS, **fmt):
    params = {"target": ",".join(targets), "channelId": CHANNEL, "subtopic": "s", "period": "P1D"}
    params["outputFormat"] = "wide" if wide else "long"
    data = {
        "name": "Greenhouse day",
        "type": "oneTime",
        "format": {"extension": "pdf", "timezone": "Europe/Rome", "columns": columns, **fmt},
        "items": [{"params": params}],
    }
    return save_spec(parse_request(data, owner=owner))


def pdf(request) -> bytes:
    job = run_job(create_job(request, SLOT).pk)
    assert job.status == JobStatus.DONE, job.error
    job = ExportJob.objects.get(pk=job.pk)
    with job.file.open("rb") as handle:
        return handle.read()


def pages(data: bytes) -> list[str]:
    """The text of each page as ``pdftotext -layout`` gives it."""
    done = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True
    )
    return done.stdout.decode().split("\f")


class _Words(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.pages: list[list[tuple[str, float, float, float, float]]] = []
        self._word: dict | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "page":
            self.pages.append([])
        elif tag == "word":
            self._word = {key: float(val) for key, val in attrs}

    def handle_data(self, data):
        if self._word is not None:
            box = self._word
            self.pages[-1].append((data, box["xmin"], box["ymin"], box["xmax"], box["ymax"]))
            self._word = None


def words(data: bytes) -> list[list[tuple[str, float, float, float, float]]]:
    """Every word of every page with its box (x and y from the top left, in points)."""
    done = subprocess.run(["pdftotext", "-bbox", "-", "-"], input=data, capture_output=True)
    parser = _Words()
    parser.feed(done.stdout.decode())
    return parser.pages


def local_time(instant: datetime) -> str:
    """A time as the report writes it: wall time, the offset only in the repeated hour."""
    moment = instant.astimezone(ROME)
    text = moment.strftime("%Y-%m-%d %H:%M")
    if moment.replace(fold=1 - moment.fold).utcoffset() != moment.utcoffset():
        text += moment.strftime(" %z")[:-2] + ":" + moment.strftime("%z")[-2:]
    return text


def number(value: float, separator: str) -> str:
    text = repr(float(value))
    return (text[:-2] if text.endswith(".0") else text).replace(".", separator)


def expected_summary(publisher: str, separator: str = ",") -> dict[str, str]:
    """The summary of one device's series, computed here from the stored messages."""
    stored = Message.objects.filter(publisher=publisher).order_by("time")
    values = [message.value for message in stored]
    return {
        "Count": str(len(values)),
        "Min": number(min(values), separator),
        "Max": number(max(values), separator),
        "Mean": number(float(f"{statistics.fmean(values):.6g}"), separator),
        "First": local_time(stored.first().time),
        "Last": local_time(stored.last().time),
    }


FACT = r"{}\s+(\d{{4}}-\d\d-\d\d \d\d:\d\d(?: [+-]\d\d:\d\d)?|\S+)"


def summary_of(text: str, title: str) -> dict[str, str]:
    """The facts printed under the summary ``title`` (the chart's axis labels share their
    lines, to the right)."""
    after = text[text.index(title) + len(title) :]
    facts = {}
    for label in ("Count", "Numbers", "Min", "Max", "Mean", "First", "Last"):
        found = re.search(FACT.format(label), after[:1500])
        if found:
            facts[label] = found.group(1)
    return facts


# --- header, summary, table --------------------------------------------------------------


def test_page_one_holds_the_header_the_summaries_and_the_start_of_the_table(alice):
    store()
    data = pdf(export(alice, decimalSeparator=","))
    first = pages(data)[0]
    for fact in ("Greenhouse day", "Window", "2026-10-25 00:00", "Europe/Rome", "Slot"):
        assert fact in first
    # The header is followed on the same page by both summaries and the table's first rows.
    assert first.index("Window") < first.index("Greenhouse north · Greenhouse")
    assert first.index("Greenhouse south · Greenhouse") < first.index("Device")
    table = first[first.index("Device") :]
    assert re.search(r"Greenhouse north\s+Greenhouse\s+2026-10-25 00:00\s+2026-10-24T22:00", table)
    assert "Page 1 of" in first


def test_summary_figures_equal_our_own_computation_from_the_stored_messages(alice):
    store()
    text = "\n".join(pages(pdf(export(alice, decimalSeparator=","))))
    for publisher, name in zip(DEVICES, NAMES, strict=True):
        expected = expected_summary(publisher)
        assert summary_of(text, f"{name} · Greenhouse") == expected
    # The decimal comma, and whole numbers without ".0", as the table writes them.
    north = summary_of(text, "Greenhouse north · Greenhouse")
    assert north["Max"] == "55" and "," in north["Mean"] and "." not in north["Mean"]


def test_the_last_time_in_the_repeated_hour_carries_its_offset(alice):
    store(points=7)  # 00:00 to 03:00 local: the last reading at 02:00 CET, after 02:00 CEST
    text = "\n".join(pages(pdf(export(alice))))
    facts = summary_of(text, "Greenhouse north · Greenhouse")
    assert facts["First"] == "2026-10-25 00:00"
    assert facts["Last"] == "2026-10-25 02:00 +01:00"
    assert facts == expected_summary(DEVICES[0], ".")


def test_wide_columns_are_series_with_their_unit_in_the_header(alice):
    store()
    data = pdf(export(alice, wide=True, columns=[{"id": "time", "label": "time"}]))
    text = "\n".join(pages(data))
    for publisher, name in zip(DEVICES, NAMES, strict=True):
        title = f"temperature ({name}) [°C]"
        assert summary_of(text, title) == expected_summary(publisher, ".")
    # The header cells (they wrap) carry the unit too: "[°C]" on the last line of each
    # device's header cell (the lowest two: the summary titles above carry it too).
    first = words(data)[0]
    units = [word for word in first if word[0] == "[°C]"]
    header = [word for word in units if word[2] == max(unit[2] for unit in units)]
    assert len(header) == 2
    for unit in header:
        # Right-aligned (a numeric column): the line above ends where "[°C]" does.
        [end] = [w for w in first if unit[2] - 20 < w[2] < unit[2] and abs(w[3] - unit[3]) < 1]
        line = [w[0] for w in first if w[2] == end[2] and unit[3] - 130 < w[1] < unit[3]]
        assert line[0] == "temperature"


def test_units_head_the_long_value_column_and_numbers_align_right(alice):
    store()
    data = pdf(export(alice, decimalSeparator=","))
    first = words(data)[0]
    unit = max((word for word in first if word[0] == "[°C]"), key=lambda word: word[2])
    value_header = next(
        word for word in first if word[0] == "value" and abs(word[1] - unit[1]) < 30
    )
    assert unit[2] >= value_header[2]  # below "value" (the header wraps) or beside it
    # The value cells: right edges line up, left edges do not (different lengths).
    column = [
        word
        for word in first
        if re.fullmatch(r"\d+(,\d+)?", word[0])
        and word[1] > value_header[1] - 30
        and unit[4] < word[2] < 780  # below the header, above the footer
    ]
    assert len(column) > 20
    rights = {round(word[3], 1) for word in column}
    lefts = {round(word[1], 1) for word in column}
    assert max(rights) - min(rights) < 0.5 and len(lefts) > 1
    assert abs(unit[3] - max(rights)) < 0.5  # the header too, over its numbers
    # Text cells align left.
    devices = [word for word in first if word[0] == "Greenhouse" and unit[4] < word[2] < 780]
    assert max(w[1] for w in devices) - min(w[1] for w in devices) > 50  # two text columns
    device_column = [w for w in devices if w[1] < min(w[1] for w in devices) + 1]
    assert len(device_column) > 20


# --- the chart -------------------------------------------------------------------------------


def line_segments(data: bytes, page: int = 0) -> int:
    """The number of straight-line path operators (``l``) on a page: a chart draws one per
    point; the tables draw a few."""
    contents = PdfReader(io.BytesIO(data)).pages[page].get_contents()
    return len(re.findall(rb"[\d.-]+ [\d.-]+ l\b", contents.get_data()))


def test_each_numeric_series_has_a_vector_line_chart(alice):
    store()
    data = pdf(export(alice))
    # 48 points each: two polylines of 47 segments, besides the axes' ticks and the tables.
    with_charts = line_segments(data)
    assert with_charts >= 2 * 47
    text_only = pdf(export(alice, targets=("label",)))  # no such metric: no data, no chart
    assert line_segments(text_only) < 47


def test_the_chart_is_decimated_but_the_table_is_not(alice):
    store(points=3000, every=timedelta(seconds=20))  # 3,000 points each, under 17 hours
    data = pdf(
        export(
            alice,
            columns=[
                {"id": "publisherName", "label": "Device"},
                {"id": "time", "label": "time"},
                {"id": "value", "label": "value"},
            ],
        )
    )
    segments = line_segments(data)
    assert 200 < segments < 2 * 2 * 600  # two charts, at most two points per bucket
    text = "\n".join(pages(data))
    assert summary_of(text, "Greenhouse north")["Count"] == "3000"
    assert summary_of(text, "Greenhouse north")["Max"] == "55"  # the spike survives
    last = local_time(START + timedelta(seconds=20 * 2999))
    assert text.count(last) >= 2 + 2  # both devices' last rows, and their summaries


def dark_pixels(data: bytes, box: tuple[float, float, float, float]) -> int:
    """Pixels darker than near-white on page 1 inside ``box`` (points, from the top left),
    rendered by pdftoppm at 72 dpi (one pixel a point) in grey."""
    done = subprocess.run(
        ["pdftoppm", "-gray", "-r", "72", "-f", "1", "-l", "1", "-"],
        input=data,
        capture_output=True,
        check=True,
    )
    raw = done.stdout
    header = re.match(rb"P5\s+(\d+)\s+(\d+)\s+(\d+)\s", raw)
    width = int(header.group(1))
    pixels = raw[header.end() :]
    left, top, right, bottom = (int(v) for v in box)
    return sum(
        1
        for y in range(top, bottom)
        for byte in pixels[y * width + left : y * width + right]
        if byte < 250
    )


def test_the_chart_area_is_drawn_and_a_series_without_data_says_so(alice):
    store()
    data = pdf(
        export(
            alice,
            targets=("temperature", "humidity"),
            wide=True,
            columns=[{"id": "time", "label": "time"}],
        )
    )
    text = "\n".join(pages(data))
    assert "humidity — No data" in text
    assert summary_of(text, "humidity")["Count"] == "0"
    assert "No data in the window" in text
    first = words(data)[0]

    def chart_box(title_word: str, height: float) -> tuple[float, float, float, float]:
        """Right of the facts, from the first fact ("Count") down ``height`` points."""
        title = next(word for word in first if word[0] == title_word)
        count = min(
            (word for word in first if word[0] == "Count" and word[2] > title[2]),
            key=lambda word: word[2],
        )
        return (200.0, count[2], 560.0, count[2] + height)

    drawn = dark_pixels(data, chart_box("temperature", 80))  # a chart is about 95 pt high
    empty = dark_pixels(data, chart_box("humidity", 20))  # only a line of text in it
    assert drawn > 3 * empty and drawn > 500


def test_text_series_get_count_and_times_but_no_chart(alice):
    Message.objects.bulk_create(
        Message(
            channel=CHANNEL,
            subtopic="s",
            publisher=DEVICES[0],
            name="state",
            time=START + timedelta(hours=i),
            string_value=["open", "shut"][i % 2],
        )
        for i in range(5)
    )
    record_messages(Message.objects.all())
    text = "\n".join(pages(pdf(export(alice, targets=("state",)))))
    facts = summary_of(text, DEVICES[0])
    assert facts["Count"] == "5" and "Min" not in facts and "Mean" not in facts
    assert facts["First"] == "2026-10-25 00:00" and facts["Last"] == local_time(
        START + timedelta(hours=4)
    )
    assert "Text values: no chart" in text


def test_an_empty_report_says_no_data_above_its_empty_table(alice):
    data = pdf(export(alice))
    text = pages(data)[0]
    assert "No data" in text and "No rows." in text
    assert text.index("Greenhouse day") < text.index("No data") < text.index("No rows.")


def test_decimation_keeps_each_buckets_lowest_and_highest_in_time_order():
    times = [float(i) for i in range(10_000)]
    values = [float(i % 100) for i in range(10_000)]
    values[5_000] = 1e6  # a spike
    points = decimate(times, values, 0.0, 9_999.0, 50)
    assert len(points) <= 100 and (5_000.0, 1e6) in points
    assert [t for t, _ in points] == sorted(t for t, _ in points)
    assert {v for _, v in points} == {0.0, 99.0, 1e6}
    short = decimate(times[:80], values[:80], 0.0, 79.0, 50)
    assert short == list(zip(times[:80], values[:80], strict=True))  # few points: all kept


def test_too_many_series_are_summarised_per_column():
    rome = ZoneInfo("Europe/Rome")
    rows = [
        (f"dev-{i}", START.astimezone(rome) + timedelta(minutes=i), float(i)) for i in range(30)
    ]
    stream = io.BytesIO()
    info = ReportInfo("Many", "Many", "Europe/Rome", "a day", SLOT)
    table = Table("many", ["Device", "time", "value"], rows, kinds=["text", "time", "value"])
    PdfWriter().write([table], stream, info)
    text = "\n".join(pages(stream.getvalue()))
    assert "More than 24 series: summarised per column." in text
    assert summary_of(text, "summarised per column.") == {
        "Count": "30",
        "Min": "0",
        "Max": "29",
        "Mean": "14.5",
        "First": "2026-10-25 00:00",
        "Last": "2026-10-25 00:29",
    }


def test_unit_symbols_are_latin1_and_only_change_codes_printed_otherwise():
    from exports.rows.units import SYMBOLS, unit_symbol

    assert unit_symbol("Cel") == "°C" and unit_symbol("ug/m3") == "µg/m³"
    assert unit_symbol("%RH") == "%RH" and unit_symbol("") == ""
    for symbol in SYMBOLS.values():
        symbol.encode("latin-1")  # printable with the PDF's fallback font
