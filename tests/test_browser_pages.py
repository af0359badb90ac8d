"""The list and the request page in a real browser: search, filter, sort and page the list;
watch a job started by "Run now" finish on the open page and download its file; phones.

Screenshots go to /tmp/h8r-shots/ (outside the repository) for people to look at.
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import django_rq
import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect
from rq import SimpleWorker

from exports.data.ingestion import store_messages
from exports.models import Channel, ExportItem, ExportJob, ExportRequest, JobStatus, Message
from exports.queue.namespace import queue_name
from exports.queue.ondemand import run_now

SHOTS = Path("/tmp/h8r-shots")
PHONE = {"width": 390, "height": 844}
RAW_STATUSES = ("notProcessed", "inProgress")


def shoot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(page, live_server, username: str, password: str) -> None:
    page.goto(live_server.url + reverse("login"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url + reverse("exports:list"))


def fits_the_width(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def visible_text(page) -> str:
    return page.locator("body").inner_text()


def make_request(owner, name: str, **fields) -> ExportRequest:
    export = ExportRequest.objects.create(owner=owner, name=name, **fields)
    ExportItem.objects.create(
        request=export,
        target_value="temperature,humidity",
        channel_id="6b1f0f3a-3c1e-4b7a-9a51-0d1c2e3f4a01",
        subtopic="events.data",
    )
    return export


@pytest.fixture
def alice_user(db):
    return get_user_model().objects.create_user("alice", "alice@example.com", "alice-pass-123")


@pytest.mark.django_db(transaction=True)
def test_the_list_searches_filters_sorts_and_pages_from_a_bookmarkable_address(
    live_server, chromium_page, alice_user
):
    page = chromium_page
    now = timezone.now()
    for index in range(27):
        export = make_request(alice_user, f"Greenhouse {index:02d}", extension="csv")
        ExportRequest.objects.filter(pk=export.pk).update(created_at=now - timedelta(hours=index))
    make_request(
        alice_user, "Freezer weekly", type="recurring", periodicity="P1W", extension="xlsx"
    )
    Channel.objects.create(channel_id="6b1f0f3a-3c1e-4b7a-9a51-0d1c2e3f4a01", name="Greenhouse")

    sign_in(page, live_server, "alice", "alice-pass-123")
    page.set_viewport_size({"width": 1280, "height": 900})
    shoot(page, "list-1280")
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(25)

    page.get_by_label("Search", exact=True).fill("freezer")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**/?q=freezer*")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Every week on")

    page.get_by_label("Search", exact=True).fill("")
    page.get_by_label("Format").select_option(label="CSV")
    page.get_by_label("Sort by").select_option(label="Name, descending")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**sort=-name*")
    expect(rows.first.locator("a").first).to_have_text("Greenhouse 26")
    expect(page.locator(".result-count")).to_contain_text("27 exports match")

    # Sorting by a column header keeps the filters and goes back to page 1.
    page.locator("thead").get_by_role("link", name="Name").click()
    page.wait_for_url("**sort=name*")
    assert "format=csv" in page.url
    expect(rows.first.locator("a").first).to_have_text("Greenhouse 00")
    page.get_by_role("link", name="Next →").click()
    page.wait_for_url("**page=2*")
    expect(rows).to_have_count(2)
    expect(rows.last.locator("a").first).to_have_text("Greenhouse 26")

    # The address is the view: opened afresh, it shows the same rows.
    bookmarked = page.url
    page.goto(live_server.url + reverse("exports:list"))
    page.goto(bookmarked)
    expect(rows).to_have_count(2)
    expect(page.get_by_label("Format")).to_have_value("csv")

    # A search through the channel's human name finds requests on that channel.
    page.goto(live_server.url + reverse("exports:list") + "?q=greenhouse&type=recurring")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("a").first).to_have_text("Freezer weekly")


@pytest.mark.django_db(transaction=True)
def test_a_job_started_by_run_now_reaches_done_on_the_open_page_and_downloads(
    live_server, chromium_page, alice_user, redis_conn
):
    page = chromium_page
    channel = "6b1f0f3a-3c1e-4b7a-9a51-0d1c2e3f4a01"
    start = datetime(2026, 1, 1, tzinfo=UTC)
    store_messages(
        [
            Message(
                channel=channel,
                subtopic="events.data",
                publisher="p1",
                name=name,
                unit="Cel",
                time=start + timedelta(minutes=5 * step),
                value=20 + step,
            )
            for step in range(50)
            for name in ("temperature", "humidity")
        ]
    )
    export = make_request(alice_user, "Greenhouse now", timezone="Europe/Rome")

    sign_in(page, live_server, "alice", "alice-pass-123")
    page.goto(live_server.url + export.get_absolute_url())
    expect(page.get_by_text("No jobs yet.")).to_be_visible()
    page.get_by_role("button", name="Run now").click()
    job_row = page.locator("#jobs tbody tr").first
    expect(job_row).to_contain_text("Waiting")
    page.evaluate("window.notReloaded = true")

    # A job made elsewhere (another tab, the admin, the scheduler) appears on the open page.
    run_now(export, now=timezone.now() - timedelta(hours=1))
    rows = page.locator("#jobs tbody tr")
    expect(rows).to_have_count(2)

    # A real RQ worker runs the queued jobs while the page stays open.
    assert set(ExportJob.objects.values_list("status", flat=True)) == {JobStatus.NOT_PROCESSED}
    django_rq.get_worker(queue_name("exports"), worker_class=SimpleWorker).work(burst=True)
    assert set(ExportJob.objects.values_list("status", flat=True)) == {JobStatus.DONE}

    expect(job_row.locator(".status")).to_have_text("Done", timeout=15_000)
    expect(rows.last.locator(".status")).to_have_text("Done")
    assert page.evaluate("window.notReloaded === true")  # updated in place
    expect(job_row.get_by_role("cell", name="100", exact=True)).to_be_visible()
    page.set_viewport_size({"width": 1280, "height": 900})
    shoot(page, "detail-1280")
    with page.expect_download() as download:
        job_row.get_by_role("link", name="Download").click()
    content = Path(download.value.path()).read_text(encoding="utf-8-sig")  # CSV has a BOM
    assert content.splitlines()[0] == "publisher,channel,name,time,value,created"
    assert len(content.splitlines()) == 101
    for raw in RAW_STATUSES:
        assert raw not in visible_text(page)


@pytest.mark.django_db(transaction=True)
def test_login_list_and_detail_fit_a_phone_and_show_statuses_in_words(
    live_server, chromium_page, alice_user
):
    page = chromium_page
    export = make_request(
        alice_user,
        "A rather long export name for the greenhouse on the north side",
        type="recurring",
        periodicity="P1D",
        timezone="Europe/Rome",
        period_start=datetime(2026, 1, 1, 23, 0, tzinfo=UTC),
    )
    item = export.items.get()
    window = {"item": item.pk, "start": "2026-11-28T23:00:00+00:00", "end": "2026-11-29T23:00Z"}
    ExportJob.objects.create(
        request=export,
        slot=datetime(2026, 11, 29, 23, 0, tzinfo=UTC),
        status=JobStatus.DONE,
        row_count=0,
        windows=[window],
    )
    ExportJob.objects.create(
        request=export,
        slot=datetime(2026, 11, 28, 23, 0, tzinfo=UTC),
        status=JobStatus.IN_PROGRESS,
        rows_written=30,
        rows_estimated=120,
    )
    ExportJob.objects.create(
        request=export,
        slot=datetime(2026, 11, 27, 23, 0, tzinfo=UTC),
        status=JobStatus.FAILED,
        error="ValueError: " + "a very long error message without spaces_" * 5,
    )
    ExportJob.objects.create(
        request=export, slot=datetime(2026, 11, 26, 23, 0, tzinfo=UTC)
    )  # waiting

    page.set_viewport_size(PHONE)
    page.goto(live_server.url + "/d/" + "A" * 43)
    shoot(page, "link-invalid-390")
    assert fits_the_width(page)
    expect(page.locator(".site-header")).to_be_visible()
    page.goto(live_server.url + reverse("login"))
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".form-errors")).to_be_focused()  # the error summary, read first
    shoot(page, "login-390")
    assert fits_the_width(page)
    sign_in(page, live_server, "alice", "alice-pass-123")
    shoot(page, "list-390")
    assert fits_the_width(page)
    text = visible_text(page)
    assert "Done — no data" in text and "No data for temperature, humidity" in text

    page.goto(live_server.url + export.get_absolute_url())
    shoot(page, "detail-390")
    assert fits_the_width(page)
    text = visible_text(page)
    for words in ("Done — no data", "Running 25%", "Failed", "Waiting"):
        assert words in text
    assert "No data for temperature, humidity in 2026-11-29 00:00 CET – 2026-11-30 00:00 CET" in (
        text
    )
    assert "Every day at 00:00 (Europe/Rome)" in text
    for raw in RAW_STATUSES:
        assert raw not in text
    # Each job is a card whose cells say what they are.
    expect(page.locator("#jobs tbody tr").first.locator("td").first).to_be_visible()
    label = page.locator("#jobs tbody tr td").first.evaluate(
        "cell => getComputedStyle(cell, '::before').content"
    )
    assert label == '"Run for"'


@pytest.mark.django_db(transaction=True)
def test_the_admin_change_page_of_a_request_fits_a_laptop(live_server, chromium_page, db):
    get_user_model().objects.create_superuser("admin", "admin@example.com", "admin-pass-123")
    owner = get_user_model().objects.create_user("alice", "alice@example.com", "alice-pass-123")
    export = make_request(owner, "Greenhouse climate", type="recurring", periodicity="P1D")
    page = chromium_page
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live_server.url + reverse("admin:login"))
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("admin-pass-123")
    page.get_by_role("button", name="Log in").click()
    page.goto(live_server.url + reverse("admin:exports_exportrequest_change", args=[export.pk]))
    shoot(page, "admin-change-1280")
    assert fits_the_width(page)


@pytest.mark.django_db(transaction=True)
def test_a_hidden_tab_does_not_poll_and_catches_up_when_shown(
    live_server, chromium_page, alice_user
):
    export = make_request(alice_user, "Waiting export")
    ExportJob.objects.create(request=export, slot=datetime(2026, 11, 1, tzinfo=UTC))
    page = chromium_page
    sign_in(page, live_server, "alice", "alice-pass-123")
    polls = []
    page.on(
        "request",
        lambda request: polls.append(request.url) if "/jobs/" in request.url else None,
    )
    page.goto(live_server.url + export.get_absolute_url())
    page.wait_for_timeout(2500)  # a waiting job: the table asks every 2 s
    assert len(polls) >= 1
    page.evaluate(
        """() => {
        Object.defineProperty(document, "hidden", { value: true, configurable: true });
        document.dispatchEvent(new Event("visibilitychange"));
    }"""
    )
    page.wait_for_timeout(300)
    polls.clear()
    page.wait_for_timeout(4500)
    assert polls == []  # nothing asked while hidden
    ExportJob.objects.update(status=JobStatus.FAILED, error="Boom")
    page.evaluate(
        """() => {
        Object.defineProperty(document, "hidden", { value: false, configurable: true });
        document.dispatchEvent(new Event("visibilitychange"));
    }"""
    )
    expect(page.locator("#jobs tbody tr .status")).to_have_text("Failed", timeout=3000)
    assert len(polls) >= 1
