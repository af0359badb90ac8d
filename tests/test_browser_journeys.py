"""Issue 19's journeys in headless Chromium at 1280 and 390 px: a recurring export made with no
typed syntax at all; a one-time "yesterday" in Europe/Rome whose files hold exactly that
calendar day (23 and 25 hours on the DST days); a mistyped channel caught before save; Run
now's window stated on the page and used by the job; every page fits a phone with no cut cell.

Set JOURNEY_SHOTS=/some/dir to keep screenshots of the editor (preview open) and the tokens.
"""

import csv
import io
import os
import zoneinfo
from datetime import UTC, datetime, timedelta
from pathlib import Path

import django_rq
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect
from rq import SimpleWorker

from exports.data.ingestion import store_messages
from exports.models import (
    ApiToken,
    Channel,
    ExportItem,
    ExportJob,
    ExportRequest,
    JobStatus,
    Message,
    Publisher,
)
from exports.queue.namespace import queue_name
from exports.queue.ondemand import run_now
from exports.requests.display import format_window
from exports.scheduling.windows import describe_window, window_from_json
from tests.test_browser_editor import NORTH, SOUTH, fits_the_screen, pick, sign_in

ROME = zoneinfo.ZoneInfo("Europe/Rome")
DEVICE = "a3c9e0d2-7b1f-4c5e-9d8a-2b3c4d5e6f70"
# A second channel named like the first whose id shares its first 8 characters.
TWIN = "6b1f0f3a-77aa-4b7a-9a51-0d1c2e3f4a99"
WIDTHS = [1280, 390]
# The two DST days of 2026 in Rome and the morning after each: "yesterday" is that day.
DST_DAYS = [
    (datetime(2026, 3, 29).date(), datetime(2026, 3, 30, 10, 0, tzinfo=ROME), 23),
    (datetime(2026, 10, 25).date(), datetime(2026, 10, 26, 10, 0, tzinfo=ROME), 25),
]

# Every table cell that is cut: its content overflows it, a box that does not scroll clips it,
# or it reaches beyond the screen outside any box that scrolls sideways. Cells hidden on
# purpose (the headers of phone cards, 1 px) do not count.
CUT_CELLS = """() => {
  const cut = [];
  const name = (cell) =>
    `${cell.closest("table").className}: ${cell.textContent.trim().slice(0, 40)}`;
  for (const cell of document.querySelectorAll("td, th")) {
    const rect = cell.getBoundingClientRect();
    if (!cell.getClientRects().length || rect.width < 2 || rect.height < 2) continue;
    let box = cell.parentElement, scrolls = false, hidden = false;
    for (; box && box !== document.documentElement; box = box.parentElement) {
      const style = getComputedStyle(box), edge = box.getBoundingClientRect();
      if (edge.width <= 1 || edge.height <= 1) { hidden = true; break; }
      if (style.overflowX === "auto" || style.overflowX === "scroll") { scrolls = true; break; }
      if ((style.overflowX === "hidden" || style.overflowX === "clip")
          && (rect.left < edge.left - 1 || rect.right > edge.right + 1)) {
        cut.push(`${name(cell)} (clipped)`);
      }
    }
    if (hidden) continue;
    if (cell.scrollWidth > cell.clientWidth + 1) cut.push(`${name(cell)} (overflows its cell)`);
    else if (!scrolls && (rect.left < -1 || rect.right > window.innerWidth + 1)) {
      cut.push(`${name(cell)} (off the screen)`);
    }
  }
  return cut;
}"""


def cut_cells(page) -> list[str]:
    return page.evaluate(CUT_CELLS)


# The preview's cells holding a number, each with the number of lines it takes.
NUMBER_LINES = """() => Array.from(document.querySelectorAll("#preview tbody td"))
  .filter((cell) => /^-?[0-9]+(\\.[0-9]+)?$/.test(cell.textContent.trim()))
  .map((cell) => {
    const range = document.createRange();
    range.selectNodeContents(cell);
    const tops = new Set(Array.from(range.getClientRects(), (rect) => Math.round(rect.top)));
    return [cell.textContent.trim(), tops.size];
  })"""


def shoot(page, name: str) -> None:
    folder = os.environ.get("JOURNEY_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)
        page.evaluate("document.activeElement && document.activeElement.blur()")


def hourly(channel: str, start: datetime, hours: int, name: str = "temperature") -> list:
    return [
        Message(
            channel=channel,
            subtopic="events.data",
            publisher=DEVICE,
            name=name,
            unit="%RH" if name == "humidity" else "Cel",
            time=start + timedelta(hours=hour),
            value=hour,
        )
        for hour in range(hours)
    ]


def seed(now: datetime | None = None) -> None:
    """alice; hourly temperature and humidity on two named channels over the last four days
    (and on the DST days of 2026 for the north one), a named device."""
    get_user_model().objects.create_user("alice", "alice@example.com", "alice-pass-123")
    now = (now or timezone.now()).replace(minute=0, second=0, microsecond=0)
    recent = now - timedelta(days=4)
    messages = [
        *hourly(NORTH, recent, 4 * 24),
        *hourly(NORTH, recent, 4 * 24, "humidity"),
        *hourly(SOUTH, recent, 4 * 24),
        *hourly(TWIN, recent, 24),
    ]
    for day, _, _ in DST_DAYS:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(days=1)
        messages += hourly(NORTH, start, 3 * 24)
    store_messages(messages)
    Channel.objects.filter(channel_id=NORTH).update(name="Greenhouse north")
    Channel.objects.filter(channel_id=SOUTH).update(name="Greenhouse south")
    Channel.objects.filter(channel_id=TWIN).update(name="Greenhouse north")
    Publisher.objects.filter(publisher_id=DEVICE).update(name="Sensor 1")


def run_jobs() -> None:
    django_rq.get_worker(queue_name("exports"), worker_class=SimpleWorker).work(burst=True)


def download(page, job: ExportJob) -> list[dict]:
    """The job's file, downloaded from its row on the open request page, as CSV records."""
    with page.expect_download() as done:
        page.locator(f"#job-{job.pk}").get_by_role("link", name="Download").click()
    text = Path(done.value.path()).read_text(encoding="utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def add_metric(page, name: str) -> None:
    page.get_by_label("Add metrics from the catalog").first.click()
    page.get_by_role("option", name=name).first.click()


def preview_scrolls_with_the_time_in_view(page, shot: str = "") -> None:
    """The first preview table scrolls inside its own box, its time column kept in view."""
    box = page.locator("#preview .preview-scroll").first
    time_header = box.locator("thead th.time-column")
    expect(time_header).to_have_text("time")
    assert page.evaluate("(box) => getComputedStyle(box).overflowX", box.element_handle()) in (
        "auto",
        "scroll",
    )
    box.evaluate("(box) => { box.scrollLeft = box.scrollWidth; }")
    left = box.evaluate("(box) => box.getBoundingClientRect().left")
    header = time_header.evaluate("(th) => th.getBoundingClientRect()")
    cell = box.locator("tbody td.time-column").first.evaluate("(td) => td.getBoundingClientRect()")
    right = box.evaluate("(box) => box.getBoundingClientRect().right")
    # Scrolled to the end: the time column is still on screen, inside the box, at its left.
    assert left - 1 <= header["x"] and header["x"] + header["width"] <= right + 1
    assert abs(cell["x"] - header["x"]) < 1
    last = box.locator("thead th").last
    expect(last).to_have_text("created")
    edge = last.evaluate("(th) => th.getBoundingClientRect().right")
    assert edge <= right + 1  # the last column is reachable, not cut
    folder = os.environ.get("JOURNEY_SHOTS")
    if shot and folder:
        box.screenshot(path=str(Path(folder) / f"{shot}.png"))
    box.evaluate("(box) => { box.scrollLeft = 0; }")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", WIDTHS)
def test_a_recurring_export_made_with_no_typed_syntax_at_all(
    live_server, chromium_page, redis_conn, width
):
    seed()
    page = chromium_page
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server)
    page.goto(live_server.url + reverse("exports:create"))
    page.get_by_role("textbox", name="Name:", exact=True).fill("Daily north")

    # The notes for recurring exports show only once recurring is chosen.
    note = page.locator(".schedule-note")
    assert not note.is_visible()
    page.get_by_label("Type").select_option(label="Recurring")
    expect(note).to_be_visible()
    page.get_by_label("Repeat").select_option(label="Every day")
    page.get_by_label("At:", exact=True).fill("06:00")
    page.get_by_label("Time zone").select_option("Europe/Rome")
    expect(page.locator("#schedule-words")).to_contain_text("Every day at 06:00 (Europe/Rome)")

    # Two channels share the name "Greenhouse north" and the first 8 characters of their
    # ids: the picker shows as much of each id as it takes to tell them apart.
    page.click('[name="items-0-channel_id"]')
    offered = page.get_by_role("listbox").get_by_role("option")
    expect(offered).to_have_text(
        [
            "Greenhouse north (6b1f0f3a-3)",
            "Greenhouse north (6b1f0f3a-7)",
            "Greenhouse south (9c2e1d4b)",
        ]
    )
    page.get_by_role("option", name="Greenhouse north (6b1f0f3a-3)").click()
    # The field shows the name people know; the id is the secondary text under it.
    channel = page.locator('[name="items-0-channel_id"]')
    expect(channel).to_have_value("Greenhouse north")
    expect(page.locator("#id_items-0-channel_id_helptext")).to_have_text(f"id {NORTH}")
    pick(page, "items-0-subtopic", "events.data")
    pick(page, "items-0-publisher", "Sensor 1 (a3c9e0d2)")
    expect(page.locator('[name="items-0-publisher"]')).to_have_value("Sensor 1")
    expect(page.locator("#id_items-0-publisher_helptext")).to_have_text(f"id {DEVICE}")
    # The metrics offered are narrowed by the ids behind the names shown.
    add_metric(page, "temperature Cel")
    add_metric(page, "humidity %RH")
    assert page.input_value('[name="items-0-target_value"]') == "temperature,humidity"

    page.locator('[name="items-0-window"]').select_option(label="The last 7 days")
    page.locator('[name="items-0-ds_unit"]').select_option(label="minutes")
    page.locator('[name="items-0-ds_size"]').fill("15")
    page.locator('[name="items-0-dsf"]').select_option(label="maximum")
    expect(page.locator("#id_items-0-ds_unit_helptext")).to_have_text("15-minute maxima")

    page.get_by_role("button", name="Preview").click()
    page.locator("#preview tbody tr").first.wait_for()
    # Saved nothing, and the picked channel still reads as its name.
    assert not ExportRequest.objects.exists()
    expect(channel).to_have_value("Greenhouse north")
    preview_scrolls_with_the_time_in_view(page, f"preview-scrolled-{width}")
    assert fits_the_screen(page)
    assert cut_cells(page) == []
    shoot(page, f"editor-preview-{width}")

    page.get_by_role("button", name="Create export").click()
    page.wait_for_url(lambda url: "/new/" not in url)
    export = ExportRequest.objects.get()
    stored = page.request.get(live_server.url + reverse("api:export", args=[export.pk])).json()
    assert stored["type"] == "recurring"
    assert stored["periodicity"] == "P1D"
    assert stored["format"]["timezone"] == "Europe/Rome"
    assert stored["items"] == [
        {
            "params": {
                "target": {"value": "temperature,humidity"},
                "channelId": NORTH,
                "subtopic": "events.data",
                "publisher": DEVICE,
                "period": "P7D",
                "decimation": {"ds": "15m", "dsf": "max"},
                "outputFormat": "long",
            }
        }
    ]
    start = datetime.fromtimestamp(stored["periodStart"], ROME)  # epoch seconds
    assert (start.hour, start.minute) == (6, 0)
    # The request page says it in words too.
    items = page.locator("#items-title + .table-wrap")
    expect(items).to_contain_text("The last 7 days")
    expect(items).to_contain_text("15-minute maxima")
    expect(items).to_contain_text("Greenhouse north (6b1f0f3a)")

    # Opened again, the field shows the name; saving unchanged keeps the id.
    page.get_by_role("link", name="Edit").click()
    expect(channel).to_have_value("Greenhouse north")
    expect(page.locator("#id_items-0-channel_id_helptext")).to_have_text(f"id {NORTH}")
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url(live_server.url + export.get_absolute_url())
    assert ExportItem.objects.get().channel_id == NORTH


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", WIDTHS)
def test_a_one_time_yesterday_in_rome_holds_exactly_that_calendar_day(
    live_server, chromium_page, redis_conn, width
):
    seed()
    page = chromium_page
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server)
    page.goto(live_server.url + reverse("exports:create"))
    page.get_by_role("textbox", name="Name:", exact=True).fill("Yesterday")
    page.get_by_label("Time zone").select_option("Europe/Rome")
    pick(page, "items-0-channel_id", "Greenhouse north (6b1f0f3a-3)")
    pick(page, "items-0-subtopic", "events.data")
    add_metric(page, "temperature Cel")
    page.locator('[name="items-0-window"]').select_option(label="Yesterday")
    page.get_by_role("button", name="Create export").click()
    page.wait_for_url(lambda url: "/new/" not in url)
    export = ExportRequest.objects.get()
    [saved] = export.jobs.all()  # saving queued the one-time run, for now

    # The same run function the save called, with "now" pinned to the morning after each
    # DST day of 2026 (the app reads no other clock for a job's window).
    pinned = {day: run_now(export, now=now) for day, now, _ in DST_DAYS}
    run_jobs()
    page.reload()
    assert set(ExportJob.objects.values_list("status", flat=True)) == {JobStatus.DONE}

    today = saved.slot.astimezone(ROME).date()
    cases = [(today - timedelta(days=1), saved, None)]
    cases += [(day, pinned[day], hours) for day, _, hours in DST_DAYS]
    for day, job, hours in cases:
        midnight = datetime(day.year, day.month, day.day, tzinfo=ROME)
        after = datetime.fromordinal(day.toordinal() + 1).replace(tzinfo=ROME)
        length = round((after.astimezone(UTC) - midnight.astimezone(UTC)) / timedelta(hours=1))
        assert hours is None or length == hours
        rows = download(page, job)
        times = [datetime.fromisoformat(row["time"]) for row in rows]
        assert len(times) == length, day  # one reading an hour: 23, 24 or 25 of them
        assert {moment.astimezone(ROME).date() for moment in times} == {day}
        assert times[0] == midnight and times[-1] == after - timedelta(hours=1)
    # The 25-hour day writes 02:00 twice, once per offset.
    autumn = [row["time"][11:] for row in download(page, pinned[DST_DAYS[1][0]])]
    assert "02:00:00.000+02:00" in autumn and "02:00:00.000+01:00" in autumn
    assert fits_the_screen(page)
    assert cut_cells(page) == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", WIDTHS)
def test_a_mistyped_channel_is_caught_before_save(live_server, chromium_page, redis_conn, width):
    seed()
    page = chromium_page
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server)
    page.goto(live_server.url + reverse("exports:create"))
    page.get_by_role("textbox", name="Name:", exact=True).fill("Typo")
    page.fill('[name="items-0-channel_id"]', "Greenhose south")
    page.fill('[name="items-0-subtopic"]', "events.data")
    page.fill('[name="items-0-target_value"]', "temperature")
    page.get_by_role("button", name="Create export").click()

    warning = page.get_by_role("alert")
    expect(warning).to_contain_text("No such channel: “Greenhose south” has no data.")
    expect(warning).to_contain_text("Did you mean Greenhouse south (9c2e1d4b)")
    assert page.evaluate("document.activeElement.id") == "form-errors"
    assert not ExportRequest.objects.exists()
    assert fits_the_screen(page)

    # Typed again with the right name (any case): saved as the channel's id, no question.
    channel = page.locator('[name="items-0-channel_id"]')
    channel.fill("greenhouse SOUTH")
    page.get_by_role("button", name="Create export").click()
    page.wait_for_url(lambda url: "/new/" not in url)
    assert ExportItem.objects.get().channel_id == SOUTH


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", WIDTHS)
def test_run_nows_window_is_stated_and_used(live_server, chromium_page, redis_conn, width):
    now = timezone.now()
    seed(now)
    alice = get_user_model().objects.get(username="alice")
    local_midnight = now.astimezone(ROME).replace(hour=0, minute=0, second=0, microsecond=0)
    export = ExportRequest.objects.create(
        owner=alice,
        name="Daily at midnight",
        type="recurring",
        periodicity="P1D",
        period_start=local_midnight - timedelta(days=3),
        timezone="Europe/Rome",
        extension="csv",
    )
    ExportItem.objects.create(
        request=export, target_value="temperature", channel_id=NORTH, subtopic="events.data"
    )
    page = chromium_page
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server)
    page.goto(live_server.url + export.get_absolute_url())

    stated = page.locator("#run-now-window")
    expect(stated).to_contain_text("Run now exports the most recent scheduled period")
    latest = stated.locator("strong").first.inner_text()
    expect(page.get_by_role("button", name="Run up to now")).to_be_visible()
    assert fits_the_screen(page)
    page.get_by_role("button", name="Run now", exact=True).click()
    job_row = page.locator("#jobs tbody tr").first
    expect(job_row).to_contain_text("Waiting")

    job = ExportJob.objects.get()
    [window] = job.windows
    start, end = window_from_json(window)
    # The period the schedule last wrote: yesterday, midnight to midnight in Rome...
    yesterday = datetime.fromordinal(local_midnight.date().toordinal() - 1).replace(tzinfo=ROME)
    assert (start, end) == (yesterday, local_midnight)
    # ...which is what the page said before the button was pressed.
    assert describe_window(window_from_json(window), ROME) == latest

    run_jobs()
    expect(job_row.locator(".status")).to_have_text("Done", timeout=15_000)
    expect(job_row.locator('[data-label="Window"]')).to_have_text(format_window(job.windows, ROME))
    times = [datetime.fromisoformat(row["time"]) for row in download(page, job)]
    expected = (end.astimezone(UTC) - start.astimezone(UTC)) // timedelta(hours=1)  # DST too
    assert len(times) == expected
    assert all(start <= moment < end for moment in times)
    assert fits_the_screen(page)
    assert cut_cells(page) == []
    shoot(page, f"detail-{width}")


@pytest.mark.django_db(transaction=True)
def test_every_page_fits_a_phone_with_no_cut_cell(live_server, chromium_page, redis_conn):
    seed()
    users = get_user_model().objects
    users.create_superuser("admin", "admin@example.com", "admin-pass-123")
    alice = users.get(username="alice")
    export = ExportRequest.objects.create(
        owner=alice, name="A request with a rather long name to wrap", timezone="Europe/Rome"
    )
    ExportItem.objects.create(
        request=export,
        target_value="temperature,humidity",
        channel_id=NORTH,
        subtopic="events.data",
        publisher=DEVICE,
        period="P1DT6H",
        ds="15m",
    )
    # Half-hourly readings with long decimals, as averages have (19.2833333333333).
    half = timezone.now().replace(minute=30, second=0, microsecond=0) - timedelta(days=2)
    store_messages(
        [
            Message(
                channel=NORTH,
                subtopic="events.data",
                publisher=DEVICE,
                name="temperature",
                unit="Cel",
                time=half + timedelta(hours=hour),
                value=hour + 0.2833333333333,
            )
            for hour in range(48)
        ]
    )
    run_now(export)
    run_jobs()
    for index in range(2):
        ApiToken.objects.issue(alice, f"gateway in greenhouse {index}")
    page = chromium_page
    page.set_viewport_size({"width": 390, "height": 844})

    def check(name: str) -> None:
        assert fits_the_screen(page), name
        assert cut_cells(page) == [], name

    page.goto(live_server.url + reverse("login"))
    check("login")
    sign_in(page, live_server)
    for name, url in {
        "list": reverse("exports:list"),
        "detail": export.get_absolute_url(),
        "new": reverse("exports:create"),
        "edit": reverse("exports:edit", args=[export.pk]),
        "delete": reverse("exports:delete", args=[export.pk]),
        "tokens": reverse("exports:tokens"),
        "api docs": reverse("api:docs"),
    }.items():
        page.goto(live_server.url + url)
        check(name)

    # The tokens table is cards: each token's expiry, last use and Revoke in view.
    page.goto(live_server.url + reverse("exports:tokens"))
    card = page.locator("table.tokens tbody tr").first
    for part in (
        card.locator('td[data-label="Expires"]'),
        card.locator('td[data-label="Last used"]'),
        card.get_by_role("button", name="Revoke"),
    ):
        part.scroll_into_view_if_needed()
        expect(part).to_be_in_viewport(ratio=1)  # whole, not cut at the screen's edge
    expect(card.locator('td[data-label="Expires"]')).to_have_text("never")
    shoot(page, "tokens-390")

    # The editor with its preview open.
    page.goto(live_server.url + reverse("exports:edit", args=[export.pk]))
    page.get_by_role("button", name="Preview").click()
    page.locator("#preview tbody tr").first.wait_for()
    preview_scrolls_with_the_time_in_view(page)
    check("editor with preview")
    # A number is never broken across lines in a narrow cell: the box scrolls instead.
    numbers = page.evaluate(NUMBER_LINES)
    assert any(text.endswith(".2833333333333") for text, _ in numbers)
    assert [text for text, lines in numbers if lines > 1] == []
    # The default columns (ids, not names) are wider than a laptop's box: they scroll too.
    page.set_viewport_size({"width": 1280, "height": 900})
    preview_scrolls_with_the_time_in_view(page, "preview-ids-scrolled-1280")
    check("editor with preview at 1280 px")
    page.set_viewport_size({"width": 390, "height": 844})

    team = Group.objects.create(name="growers")
    team.user_set.add(alice)
    page.get_by_role("button", name="Log out").click()
    page.goto(live_server.url + reverse("login"))
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("admin-pass-123")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url + reverse("exports:list"))
    for name, url in {
        "access channels": reverse("exports:access-channels"),
        "access channel": reverse("exports:access-channel", args=[NORTH]),
        "access teams": reverse("exports:access-groups"),
        "access team": reverse("exports:access-group", args=[team.pk]),
        "staff list": reverse("exports:list"),
    }.items():
        page.goto(live_server.url + url)
        check(name)
