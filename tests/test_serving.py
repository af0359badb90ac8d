"""Serving under load (issue 17, item 9): the request list and ``/api/exports`` find the shown
page's last jobs and children after paging, in a fixed number of queries, with unchanged output;
the filter selects are rendered once per value; gunicorn's defaults follow the host."""

from __future__ import annotations

import runpy
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django import forms
from django.core.files.base import ContentFile
from django.urls import reverse

from exports.models import JobStatus
from exports.ops.warmup import warm_up
from exports.requests.display import format_time
from exports.requests.listing import FilterSelect, RequestListForm, list_rows
from tests.test_api import alice_api, issue  # noqa: F401 (fixture)
from tests.test_pages import make_job, make_request

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


def test_a_row_shows_the_last_job_and_the_latest_file_even_when_older(alice):
    export = make_request(alice, name="Older file")
    done = make_job(export, slot=datetime(2025, 3, 1, tzinfo=UTC), row_count=3)
    done.file.save("older.csv", ContentFile(b"a,b\n"), save=True)
    make_job(export, JobStatus.DONE, slot=datetime(2025, 3, 2, tzinfo=UTC), row_count=0)
    failed = make_job(export, JobStatus.FAILED, slot=datetime(2025, 3, 3, tzinfo=UTC))
    never = make_request(alice, name="Never run")
    (row, empty) = list_rows([export, never])
    assert (row.last_job.pk, row.file_job.pk) == (failed.pk, done.pk)
    assert row.file_url == reverse("exports:job-download", args=[export.pk, done.pk])
    assert row.file_time == "2025-03-01 00:00 UTC"
    assert row.last_run == ("2025-03-03T00:00:00+00:00", "2025-03-03 00:00 UTC")
    assert row.metrics == "temperature"
    assert (empty.last_job, empty.file_job, empty.last_run, empty.file_url) == (
        None,
        None,
        None,
        "",
    )


def test_the_list_page_shows_the_row_texts(alice_client, alice):
    export = make_request(
        alice,
        name="Rome",
        type="recurring",
        periodicity="P1D",
        period_start=datetime(2025, 3, 1, 7, tzinfo=UTC),
        timezone="Europe/Rome",
    )
    export.refresh_from_db()  # its next run, as saving worked it out
    job = make_job(export, slot=datetime(2025, 3, 4, 7, tzinfo=UTC), row_count=5)
    job.file.save("rome.csv", ContentFile(b"a\n"), save=True)
    text = alice_client.get(reverse("exports:list")).text
    next_run = export.next_run_at
    local = format_time(next_run, "Europe/Rome")
    assert f'<time datetime="{next_run.isoformat()}">{local}</time>' in text
    assert '<time datetime="2025-03-04T07:00:00+00:00">2025-03-04 08:00 CET</time>' in text
    assert "Every day at 08:00 (Europe/Rome)" in text
    assert f'<a href="{export.get_absolute_url()}">Rome</a>' in text
    assert reverse("exports:job-download", args=[export.pk, job.pk]) in text


def test_the_api_list_costs_the_same_queries_for_a_full_page(
    alice_api,  # noqa: F811
    alice,
    django_assert_max_num_queries,
):
    def add(count, start):
        for index in range(start, start + count):
            export = make_request(alice, name=f"Export {index}")
            make_job(export, JobStatus.FAILED if index % 2 else JobStatus.DONE)

    add(2, 0)
    with django_assert_max_num_queries(12) as few:
        first = alice_api.get("/api/exports").json()
    add(23, 2)
    with django_assert_max_num_queries(len(few.captured_queries)):
        body = alice_api.get("/api/exports").json()
    assert len(body["results"]) == 25 and body["total"] == 25
    assert {r["status"] for r in body["results"]} == {"done", "failed"}
    assert first["results"][0]["items"] == body["results"][-2]["items"]


def test_the_filter_selects_render_as_plain_selects():
    for value in ("", "failed", "noData", "nonsense"):
        data = {"status": value, "sort": "-last", "type": "recurring"}
        cached, plain = RequestListForm(data), RequestListForm(data)
        cached.is_valid(), plain.is_valid()
        for field in plain.fields.values():
            if isinstance(field.widget, FilterSelect):
                field.widget.__class__ = forms.Select
        for _ in range(2):  # the first renders, the second reuses
            assert [str(f) for f in cached] == [str(f) for f in plain]
    assert not any("nonsense" in key for key in FilterSelect._rendered)


def gunicorn_settings(monkeypatch, **env) -> dict:
    for name in [n for n in __import__("os").environ if n.startswith("GUNICORN_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))


def test_gunicorn_is_sized_for_the_host(monkeypatch):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1}, raising=False)
    conf = gunicorn_settings(monkeypatch)
    assert (conf["workers"], conf["threads"], conf["worker_class"]) == (3, 4, "gthread")
    assert conf["worker_connections"] == conf["threads"]  # no piling onto one worker
    assert conf["keepalive"] == 0
    assert conf["preload_app"] is True
    assert conf["max_requests"] >= 20_000 and conf["max_requests_jitter"] > 0
    conf = gunicorn_settings(
        monkeypatch, GUNICORN_WORKERS="8", GUNICORN_KEEPALIVE="2", GUNICORN_PRELOAD="false"
    )
    assert (conf["workers"], conf["keepalive"], conf["preload_app"]) == (8, 2, False)


def test_the_warm_up_asks_the_database_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        warm_up()
