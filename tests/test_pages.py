"""The pages that show requests and jobs: the list's query string, statuses in words, one
time format, the polled job table, link pages, and one-time requests on every saving path."""

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from exports.management.commands.runstack import site_url_for
from exports.models import (
    Channel,
    ExportItem,
    ExportJob,
    ExportRequest,
    JobStatus,
    NotificationMessage,
    status_words,
)
from exports.queue.ondemand import start_one_time
from exports.requests.display import format_time
from notifications.links import create_link, revoke_links
from tests.test_admin import REQUEST_JSON, add_form_data, url

pytestmark = pytest.mark.django_db


def make_request(owner, name="Temps", metric="temperature", channel="c1", **fields):
    export = ExportRequest.objects.create(owner=owner, name=name, **fields)
    ExportItem.objects.create(
        request=export, target_value=metric, channel_id=channel, subtopic="events.data"
    )
    return export


def make_job(export, status=JobStatus.DONE, slot=datetime(2025, 3, 1, tzinfo=UTC), **fields):
    return ExportJob.objects.create(request=export, slot=slot, status=status, **fields)


def names_listed(client, **query) -> list[str]:
    response = client.get(reverse("exports:list"), query)
    assert response.status_code == 200
    rows = response.context["rows"]
    return [row.export.name for row in rows]


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


# --- words and times ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "rows", "percent", "words"),
    [
        (JobStatus.NOT_PROCESSED, None, None, "Waiting"),
        (JobStatus.IN_PROGRESS, None, None, "Running"),
        (JobStatus.IN_PROGRESS, None, 42, "Running 42%"),
        (JobStatus.DONE, 10, None, "Done"),
        (JobStatus.DONE, 0, None, "Done — no data"),
        (JobStatus.FAILED, None, None, "Failed"),
        (JobStatus.EXPIRED, 5, None, "Expired"),
        (JobStatus.SKIPPED, None, None, "Skipped"),
    ],
)
def test_it_says_each_status_in_words(status, rows, percent, words):
    assert status_words(status, rows, percent) == words


def test_a_running_jobs_label_carries_its_progress(alice):
    job = make_job(make_request(alice), JobStatus.IN_PROGRESS, rows_written=30, rows_estimated=120)
    assert (job.progress_percent, job.status_label) == (25, "Running 25%")
    job.rows_estimated = None
    assert job.status_label == "Running"


def test_it_writes_every_time_in_one_format_with_the_zone():
    winter = datetime(2026, 11, 30, 5, 37, tzinfo=UTC)
    assert format_time(winter, "Europe/Rome") == "2026-11-30 06:37 CET"
    assert format_time(winter.replace(month=7), "Europe/Rome") == "2026-07-30 07:37 CEST"
    assert format_time(winter.replace(second=9), "UTC") == "2026-11-30 05:37:09 UTC"
    assert format_time(winter, "Asia/Kolkata") == "2026-11-30 11:07 IST"
    assert format_time(None, "UTC") == ""
    assert format_time(winter.replace(tzinfo=None), "") == "2026-11-30 05:37 UTC"  # naive is UTC


# --- the list ------------------------------------------------------------------------------


def test_it_searches_names_metrics_channel_ids_and_channel_names(alice_client, alice):
    make_request(alice, "Greenhouse climate", metric="humidity", channel="6b1f-green")
    make_request(alice, "Freezer", metric="temperature", channel="6b1f-cold")
    Channel.objects.create(channel_id="6b1f-cold", name="Cold storage")
    assert names_listed(alice_client, q="greenhouse") == ["Greenhouse climate"]
    assert names_listed(alice_client, q="HUMID") == ["Greenhouse climate"]
    assert names_listed(alice_client, q="6b1f-cold") == ["Freezer"]
    assert names_listed(alice_client, q="cold stor") == ["Freezer"]
    assert names_listed(alice_client, q="6b1f") == ["Freezer", "Greenhouse climate"]
    assert names_listed(alice_client, q="nothing like it") == []


def test_a_request_matching_through_two_items_is_listed_once(alice_client, alice):
    export = make_request(alice, "Two items", metric="temperature")
    ExportItem.objects.create(
        request=export, target_value="temperature", channel_id="c2", subtopic="s"
    )
    assert names_listed(alice_client, q="temperature") == ["Two items"]


def test_it_filters_by_type_format_paused_and_the_last_jobs_status(alice_client, alice):
    daily = make_request(alice, "Daily", type="recurring", periodicity="P1D", extension="xlsx")
    once = make_request(alice, "Once")
    paused = make_request(alice, "Paused", paused=True)
    empty = make_request(alice, "Empty")
    make_request(alice, "Never")
    make_job(daily, JobStatus.DONE, slot=datetime(2025, 3, 1, tzinfo=UTC), row_count=5)
    make_job(daily, JobStatus.FAILED, slot=datetime(2025, 3, 2, tzinfo=UTC))  # the last one
    make_job(once, JobStatus.DONE, row_count=7)
    make_job(paused, JobStatus.IN_PROGRESS)
    make_job(empty, JobStatus.DONE, row_count=0)

    assert names_listed(alice_client, type="recurring") == ["Daily"]
    assert names_listed(alice_client, format="xlsx") == ["Daily"]
    assert names_listed(alice_client, paused="yes") == ["Paused"]
    assert "Paused" not in names_listed(alice_client, paused="no")
    assert names_listed(alice_client, status="failed") == ["Daily"]
    assert names_listed(alice_client, status="done") == ["Once"]
    assert names_listed(alice_client, status="noData") == ["Empty"]
    assert names_listed(alice_client, status="inProgress") == ["Paused"]
    assert names_listed(alice_client, status="never") == ["Never"]
    assert names_listed(alice_client, status="failed", type="oneTime") == []


def test_it_sorts_by_name_next_run_last_run_and_creation(alice_client, alice):
    now = timezone.now()
    b = make_request(alice, "b", type="recurring", periodicity="P1D")
    a = make_request(alice, "A", type="recurring", periodicity="P1D")
    c = make_request(alice, "c")
    ExportRequest.objects.filter(pk=b.pk).update(
        next_run_at=now + timedelta(hours=1), created_at=now - timedelta(days=3)
    )
    ExportRequest.objects.filter(pk=a.pk).update(
        next_run_at=now + timedelta(hours=2), created_at=now - timedelta(days=2)
    )
    ExportRequest.objects.filter(pk=c.pk).update(created_at=now - timedelta(days=1))
    make_job(a, slot=datetime(2025, 1, 1, tzinfo=UTC))
    make_job(c, slot=datetime(2025, 2, 1, tzinfo=UTC))

    assert names_listed(alice_client) == ["c", "A", "b"]  # newest first by default
    assert names_listed(alice_client, sort="name") == ["A", "b", "c"]  # case does not matter
    assert names_listed(alice_client, sort="-name") == ["c", "b", "A"]
    assert names_listed(alice_client, sort="next") == ["b", "A", "c"]  # never: last
    assert names_listed(alice_client, sort="-next") == ["A", "b", "c"]  # still last
    assert names_listed(alice_client, sort="last") == ["A", "c", "b"]
    assert names_listed(alice_client, sort="-last") == ["c", "A", "b"]
    assert names_listed(alice_client, sort="created") == ["b", "A", "c"]


def test_an_invalid_filter_is_a_400_naming_it_and_lists_nothing(alice_client, alice):
    make_request(alice)
    response = alice_client.get(reverse("exports:list"), {"status": "bogus", "sort": "size"})
    assert response.status_code == 400
    assert response.context["rows"] == []
    text = response.text
    assert "Last job: Select a valid choice. bogus is not one of the available choices." in text
    assert "Sort by: Select a valid choice." in text


def test_pages_and_sort_links_keep_every_other_filter(alice_client, alice):
    for index in range(30):
        make_request(alice, f"Greenhouse {index:02d}", type="recurring", periodicity="PT1H")
    make_request(alice, "Other greenhouse")  # one-time: filtered out
    response = alice_client.get(
        reverse("exports:list"), {"q": "greenhouse", "type": "recurring", "sort": "name"}
    )
    assert [row.export.name for row in response.context["rows"]][:2] == [
        "Greenhouse 00",
        "Greenhouse 01",
    ]
    assert len(response.context["rows"]) == 25
    assert 'href="?q=greenhouse&amp;type=recurring&amp;sort=name&amp;page=2"' in response.text
    # The header of the sorted column reverses it and starts again at page 1.
    assert 'href="?q=greenhouse&amp;type=recurring&amp;sort=-name"' in response.text
    assert 'aria-sort="ascending"' in response.text
    second = alice_client.get(
        reverse("exports:list"), {"q": "greenhouse", "type": "recurring", "sort": "name", "page": 2}
    )
    assert [row.export.name for row in second.context["rows"]][-1] == "Greenhouse 29"
    assert "Page 2 of 2" in second.text


def test_each_row_has_schedule_words_last_run_and_the_latest_file(alice_client, alice):
    export = make_request(
        alice,
        "Nightly",
        type="recurring",
        periodicity="P1D",
        timezone="Europe/Rome",
        period_start=datetime(2025, 2, 28, 23, 0, tzinfo=UTC),
    )
    done = make_job(
        export,
        slot=datetime(2025, 3, 1, 23, 0, tzinfo=UTC),
        row_count=3,
        file=ContentFile(b"x", name="a.csv"),
    )
    make_job(export, JobStatus.FAILED, slot=datetime(2025, 3, 2, 23, 0, tzinfo=UTC))
    text = alice_client.get(reverse("exports:list")).text
    assert "Every day at 00:00 (Europe/Rome)" in text
    assert "<code" in text and "P1D</code>" in text  # the ISO value, as secondary text
    assert "2025-03-03 00:00 CET" in text and ">Failed<" in text  # the last run
    # The download is the latest *done* file, not the failed last run.
    assert reverse("exports:job-download", args=[export.pk, done.pk]) in text


def test_a_last_job_without_rows_says_no_data_with_its_window_and_metrics(alice_client, alice):
    export = make_request(alice, "Typo", metric="temprature,humidity", timezone="Europe/Rome")
    item = export.items.get()
    make_job(
        export,
        row_count=0,
        windows=[
            {"item": item.pk, "start": "2025-03-01T00:00:00+00:00", "end": "2025-03-02T00:00:00Z"}
        ],
    )
    reason = "No data for temprature, humidity in 2025-03-01 01:00 CET – 2025-03-02 01:00 CET"
    listed = alice_client.get(reverse("exports:list")).text
    assert ">Done — no data<" in listed and reason in listed
    detail = alice_client.get(reverse("exports:detail", args=[export.pk])).text
    assert ">Done — no data<" in detail and reason in detail


def test_the_list_costs_a_fixed_number_of_queries_with_filters(
    alice_client, alice, django_assert_max_num_queries
):
    for index in range(3):
        make_job(make_request(alice, f"Export {index}"), row_count=index)
    query = {"q": "export", "status": "done", "sort": "-last"}
    with django_assert_max_num_queries(10) as few:
        alice_client.get(reverse("exports:list"), query)
    for index in range(3, 25):
        make_job(make_request(alice, f"Export {index}"), row_count=index)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = alice_client.get(reverse("exports:list"), query)
    assert len(response.context["rows"]) == 24  # "Export 0" had no rows


# --- the detail page and its polled job table --------------------------------------------------


def test_the_job_table_is_served_alone_for_the_open_page(alice_client, alice, bob, client):
    export = make_request(alice, timezone="Europe/Rome")
    make_job(export, JobStatus.IN_PROGRESS, rows_written=1, rows_estimated=4)
    response = alice_client.get(reverse("exports:jobs", args=[export.pk]))
    assert response.status_code == 200
    assert "<html" not in response.text  # a fragment
    assert ">Running 25%<" in response.text
    assert "2025-03-01 01:00 CET" in response.text
    assert 'data-next-refresh="2"' in response.text
    assert "no-cache" in response["Cache-Control"]
    client.force_login(bob)
    assert client.get(reverse("exports:jobs", args=[export.pk])).status_code == 404


def test_the_job_table_pages_like_the_detail_page(alice_client, alice):
    export = make_request(alice)
    for day in range(1, 31):
        make_job(export, slot=datetime(2025, 3, day, tzinfo=UTC), row_count=1)
    fragment = alice_client.get(reverse("exports:jobs", args=[export.pk]), {"page": 2}).text
    assert fragment.count('<tr id="job-') == 5
    assert "Page 2 of 2" in fragment
    assert 'data-next-refresh="10"' in fragment  # nothing running: look again less often
    detail = alice_client.get(reverse("exports:detail", args=[export.pk]), {"page": 2}).text
    assert f'data-url="{reverse("exports:jobs", args=[export.pk])}?page=2"' in detail


def test_the_polled_job_table_costs_the_same_queries_for_a_full_page(
    alice_client, alice, django_assert_max_num_queries
):
    from notifications.models import Delivery

    export = make_request(alice)
    message = NotificationMessage.objects.create(request=export, medium="email")

    def add_jobs(days):
        for day in days:
            job = make_job(export, slot=datetime(2025, 3, day, tzinfo=UTC), row_count=1)
            Delivery.objects.create(job=job, message=message)
            create_link(job)

    add_jobs(range(1, 3))
    url = reverse("exports:jobs", args=[export.pk])
    with django_assert_max_num_queries(12) as few:
        alice_client.get(url)
    add_jobs(range(3, 28))
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = alice_client.get(url)
    assert response.text.count("Revoke 1 download link") == 25


def test_the_detail_page_says_the_schedule_in_words_and_times_in_its_zone(alice_client, alice):
    export = make_request(
        alice,
        "Monthly",
        type="recurring",
        periodicity="P1M",
        timezone="Europe/Rome",
        period_start=datetime(2025, 1, 30, 23, 0, tzinfo=UTC),
    )
    text = alice_client.get(reverse("exports:detail", args=[export.pk])).text
    assert "Monthly on day 31 at 00:00, the last day in shorter months (Europe/Rome)" in text
    assert "ISO 8601: <code>P1M</code>" in text
    assert "2025-01-31 00:00 CET" in text


def test_no_raw_status_identifier_is_shown_in_the_admin_job_list(admin_client, alice):
    export = make_request(alice, timezone="Europe/Rome")
    make_job(export, JobStatus.NOT_PROCESSED, slot=datetime(2025, 3, 1, tzinfo=UTC))
    make_job(
        export,
        JobStatus.DONE,
        slot=datetime(2025, 3, 2, tzinfo=UTC),
        row_count=0,
        started_at=datetime(2025, 3, 2, 0, 0, 5, tzinfo=UTC),
    )
    response = admin_client.get(url(ExportJob, "changelist"))
    text = response.text
    assert ">Waiting<" in text and ">Done — no data<" in text
    assert "2025-03-01 01:00 CET" in text and "2025-03-02 01:00:05 CET" in text
    assert ">notProcessed<" not in text and "not processed" not in text
    requests = admin_client.get(url(ExportRequest, "changelist")).text
    assert "Once" in requests


def test_the_admin_item_inline_shows_every_item_field_a_few_a_line():
    from exports.admin.requests import ExportItemInline
    from exports.editor.items import ITEM_FIELDS

    lines = ExportItemInline.fields
    assert sorted(name for line in lines for name in line) == sorted(["position", *ITEM_FIELDS])
    assert max(len(line) for line in lines) <= 3


# --- link pages --------------------------------------------------------------------------


@pytest.fixture
def finished_job(alice):
    export = make_request(alice, "Secret plant")
    return make_job(
        export,
        finished_at=timezone.now(),
        row_count=1,
        file=ContentFile(b"time,value\n", name="f.csv"),
    )


def test_an_invalid_link_page_has_the_site_header_and_no_sign_in(client):
    response = client.get("/d/" + "A" * 43)
    assert response.status_code == 404
    assert 'class="site-header"' in response.text
    assert "ask whoever sent it" in response.text
    assert reverse("login") not in response.text  # signing in would not help


def test_a_revoked_link_offers_sign_in_to_its_owner_and_reveals_nothing(
    client, finished_job, alice
):
    _, token = create_link(finished_job)
    revoke_links(finished_job)
    response = client.get(f"/d/{token}")
    assert response.status_code == 410
    assert (
        "has been revoked" in response.text
        and "its owner or an editor it is shared with" in response.text
        and "If you can see the export, sign in" in response.text
    )
    assert f'href="{reverse("login")}"' in response.text
    assert "Secret plant" not in response.text
    client.force_login(alice)  # the owner, signed in, gets straight to the export
    signed_in = client.get(f"/d/{token}").text
    assert "Open “Secret plant”" in signed_in and 'href="/accounts/login/"' not in signed_in


def test_a_link_page_tells_another_signed_in_user_nothing_more(client, finished_job, bob):
    _, token = create_link(finished_job)
    finished_job.status = JobStatus.EXPIRED
    finished_job.save()
    client.force_login(bob)
    response = client.get(f"/d/{token}")
    assert response.status_code == 410
    assert "owner or an administrator can run the export again" in response.text
    assert "Secret plant" not in response.text and "Sign in</a>" not in response.text


# --- one-time requests on every path: queued unless paused ----------------------------------


def test_start_one_time_queues_only_an_unpaused_one_time_request_once(alice):
    once = make_request(alice)
    assert start_one_time(once) is not None
    assert start_one_time(once) is None  # it has its job
    assert start_one_time(make_request(alice, paused=True)) is None
    recurring = make_request(alice, type="recurring", periodicity="P1D")
    assert start_one_time(recurring) is None


def test_createexport_does_not_queue_a_paused_one_time_request(alice, tmp_path):
    document = {**REQUEST_JSON, "type": "oneTime", "paused": True}
    document.pop("periodicity")
    path = tmp_path / "request.json"
    path.write_text(json.dumps(document))
    call_command("createexport", str(path), owner="alice", stdout=io.StringIO())
    export = ExportRequest.objects.get()
    assert export.paused
    assert not export.jobs.exists()


def test_the_admin_add_form_does_not_queue_a_paused_one_time_request(admin_client, alice):
    response = admin_client.post(url(ExportRequest, "add"), add_form_data(alice, paused="on"))
    assert response.status_code == 302
    assert not ExportRequest.objects.get().jobs.exists()
    response = admin_client.post(url(ExportRequest, "add"), add_form_data(alice, name="Now"))
    assert ExportRequest.objects.get(name="Now").jobs.get().status == JobStatus.NOT_PROCESSED


def test_a_request_imported_in_the_admin_is_queued_like_one_made_on_the_pages(admin_client, alice):
    document = {**REQUEST_JSON, "type": "oneTime"}
    document.pop("periodicity")
    paused = {**document, "name": "Paused import", "paused": True}
    response = admin_client.post(
        url(ExportRequest, "import_json"),
        {"owner": alice.pk, "document": json.dumps([document, paused])},
    )
    assert response.status_code == 302
    assert ExportRequest.objects.get(name=document["name"]).jobs.count() == 1
    assert not ExportRequest.objects.get(name="Paused import").jobs.exists()


def test_an_admin_import_beyond_the_queue_cap_saves_nothing(admin_client, alice, settings):
    settings.EXPORTS_MAX_QUEUED_PER_USER = 1
    make_job(make_request(alice), JobStatus.NOT_PROCESSED)
    document = {**REQUEST_JSON, "type": "oneTime"}
    document.pop("periodicity")
    response = admin_client.post(
        url(ExportRequest, "import_json"), {"owner": alice.pk, "document": json.dumps(document)}
    )
    assert response.status_code == 429
    assert "Nothing imported" in response.text
    assert not ExportRequest.objects.filter(name=document["name"]).exists()


# --- make run ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("addr", "site_url"),
    [
        ("127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("0.0.0.0:8080", "http://127.0.0.1:8080"),
        ("8080", "http://127.0.0.1:8080"),
        ("localhost:9000", "http://localhost:9000"),
    ],
)
def test_site_url_follows_the_address_make_run_serves_on(addr, site_url):
    assert site_url_for(addr) == site_url


def test_messages_can_say_the_schedule_in_words(alice):
    from notifications.facts import facts_for_job
    from notifications.placeholders import render

    export = make_request(
        alice,
        type="recurring",
        periodicity="P1D",
        timezone="Europe/Rome",
        period_start=datetime(2025, 2, 28, 23, 0, tzinfo=UTC),
    )
    job = make_job(export, slot=datetime(2025, 3, 1, 23, 0, tzinfo=UTC), row_count=1)
    facts = facts_for_job(job, "https://example.test/d/x")
    assert render("Runs {schedule}.", facts.values(), str) == (
        "Runs Every day at 00:00 (Europe/Rome)."
    )
