"""The JSON API: access for every persona on every endpoint, round trips, errors and limits."""

import io
import json
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from exports.models import (
    ApiToken,
    ChannelGrant,
    ExportItem,
    ExportJob,
    ExportRequest,
    IamEvent,
    JobStatus,
)
from exports.requests.dump import dump_request

pytestmark = pytest.mark.django_db

ONE_TIME = {
    "name": "Greenhouse",
    "type": "oneTime",
    "format": {"extension": "csv", "timezone": "Europe/Rome"},
    "items": [
        {
            "params": {
                "target": {"value": "temperature"},
                "channelId": "c1",
                "subtopic": "events.data",
            }
        }
    ],
}
# Everything the request shape can say, in the API dialect.
RICH = {
    "name": "Nightly greenhouse report",
    "type": "recurring",
    "periodicity": "P1D",
    "periodStart": "2026-01-01T00:00:00+01:00",
    "format": {
        "extension": "xlsx",
        "timezone": "Europe/Rome",
        "template": "expanded",
        "csvDelimiter": ";",
        "filename": "greenhouse",
        "columns": [{"id": "time", "label": "When"}, {"id": "value", "label": "Reading"}],
    },
    "items": [
        {
            "params": {
                "target": {"value": "temperature,humidity", "label": "Temp,Hum"},
                "channelId": "c1",
                "subtopic": "events.data",
                "publisher": "dev-1",
                "period": "P1D",
                "decimation": {"ds": "15m", "dsf": "max"},
                "outputFormat": "wide",
            },
            "filename": "climate",
        },
        {
            "params": {
                "target": {"value": "energy"},
                "channelId": "c2",
                "subtopic": "events.power",
                "from": 1767222000,
                "to": 1767308400,
                "transform": "delta",
                "outputFormat": "long",
            }
        },
    ],
    "notification": {
        "messages": [
            {
                "policy": "onSuccess",
                "medium": "email",
                "target": "ops@example.com",
                "title": "Done",
            },
            {"policy": "onFailure", "medium": "email", "text": "It failed"},
        ]
    },
}
PACK = [
    {"bn": "urn:dev:ow:10e2073a01080063:", "bt": 1_700_000_000, "bu": "Cel", "n": "temperature"}
    | {"v": 21.5},
    {"n": "temperature", "t": 300, "v": 21.75},
    {"n": "humidity", "u": "%RH", "t": 300, "v": 48},
    {"n": "door", "t": 600, "vb": True},
    {"n": "energy", "u": "kWh", "t": 600, "v": 12.5, "s": 1520.25},
]


def bearer(secret: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def issue(user, **fields) -> str:
    token, secret = ApiToken.objects.issue(user, "test")
    if fields:
        ApiToken.objects.filter(pk=token.pk).update(**fields)
    return secret


def send(client: Client, method: str, url: str, body=None, content_type="application/json"):
    if body is None:
        return getattr(client, method)(url)
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return getattr(client, method)(url, data, content_type=content_type)


@pytest.fixture
def alice_api(alice):
    return bearer(issue(alice))


@pytest.fixture
def bob_api(bob):
    return bearer(issue(bob))


@pytest.fixture
def admin_api(admin_user):
    return bearer(issue(admin_user))


@pytest.fixture
def alices_export(alice):
    export = ExportRequest.objects.create(owner=alice, name="Alice's greenhouse")
    ExportItem.objects.create(
        request=export, target_value="temperature", channel_id="c1", subtopic="events.data"
    )
    return export


@pytest.fixture
def done_job(alices_export):
    job = ExportJob.objects.create(
        request=alices_export,
        slot=datetime(2026, 3, 1, tzinfo=UTC),
        status=JobStatus.DONE,
        content_type="text/csv",
        finished_at=timezone.now(),
    )
    job.file.save("alice.csv", ContentFile(b"time,value\n1,2\n"))
    return job


# --- the access matrix ---------------------------------------------------------------------

PERSONAS = ("owner", "other", "staff", "none", "revoked", "expired")


def endpoints(export, job):
    """(name, method, url, body, owner's status): every endpoint of the API."""
    e, j = export.pk, job.pk
    ingest = "/api/channels/c1/messages/events.data"
    return [
        ("list", "get", "/api/exports", None, 200),
        ("create", "post", "/api/exports", ONE_TIME, 201),
        ("read", "get", f"/api/exports/{e}", None, 200),
        ("replace", "put", f"/api/exports/{e}", ONE_TIME, 200),
        ("patch", "patch", f"/api/exports/{e}", {"name": "Renamed"}, 200),
        ("delete", "delete", f"/api/exports/{e}", None, 204),
        ("run", "post", f"/api/exports/{e}/run", None, 202),
        ("pause", "post", f"/api/exports/{e}/pause", None, 200),
        ("resume", "post", f"/api/exports/{e}/resume", None, 200),
        ("jobs", "get", f"/api/exports/{e}/jobs", None, 200),
        ("job", "get", f"/api/jobs/{j}", None, 200),
        ("job download", "get", f"/api/jobs/{j}/download", None, 200),
        ("export download", "get", f"/api/exports/{e}/download", None, 200),
        ("preview", "post", "/api/exports/preview", ONE_TIME, 200),
        ("series", "get", "/api/series", None, 200),
        ("ingest", "post", ingest, PACK, 202),
    ]


ENDPOINT_NAMES = [name for name, *_ in endpoints(ExportRequest(pk=1), ExportJob(pk=1))]
# Endpoints that act on one of alice's objects: anyone else but staff gets a 404.
OWNED = {
    "read",
    "replace",
    "patch",
    "delete",
    "run",
    "pause",
    "resume",
    "jobs",
    "job",
    "job download",
    "export download",
}


def expected_status(persona: str, name: str, owners_status: int) -> int:
    if persona in ("none", "revoked", "expired"):
        return 401
    if persona == "other":
        if name in OWNED:
            return 404
        if name == "ingest":
            return 403  # bob has no grant on the channel
    return owners_status


@pytest.mark.parametrize("name", ENDPOINT_NAMES)
@pytest.mark.parametrize("persona", PERSONAS)
def test_every_endpoint_answers_each_persona_as_the_rules_say(
    persona, name, alice, bob, admin_user, done_job
):
    export = done_job.request
    ChannelGrant.objects.create(user=alice, channel_id="c1", can_publish=True)
    clients = {
        "owner": lambda: bearer(issue(alice)),
        "other": lambda: bearer(issue(bob)),
        "staff": lambda: bearer(issue(admin_user)),
        "none": Client,
        "revoked": lambda: bearer(issue(alice, revoked_at=timezone.now())),
        "expired": lambda: bearer(issue(alice, expires_at=timezone.now() - timedelta(seconds=1))),
    }
    _, method, url, body, owners_status = next(
        row for row in endpoints(export, done_job) if row[0] == name
    )
    response = send(clients[persona](), method, url, body)
    assert response.status_code == expected_status(persona, name, owners_status), response.content
    if response.status_code >= 400:
        assert response["Content-Type"] == "application/json"
        assert response.json()["errors"][0]["message"]
    if response.status_code == 401:
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_or_expired_token_says_why(alice):
    revoked = bearer(issue(alice, revoked_at=timezone.now())).get("/api/exports")
    expired = bearer(issue(alice, expires_at=timezone.now())).get("/api/exports")
    unknown = bearer("exp_0000abcd_" + "x" * 43).get("/api/exports")
    assert revoked.json()["errors"][0]["message"] == "This API token has been revoked."
    assert expired.json()["errors"][0]["message"] == "This API token has expired."
    assert unknown.json()["errors"][0]["message"] == "Unknown API token."


def test_another_users_export_is_absent_from_their_list(bob_api, alices_export, bob):
    ExportRequest.objects.create(owner=bob, name="Bob's")
    names = [row["name"] for row in bob_api.get("/api/exports").json()["results"]]
    assert names == ["Bob's"]


def test_staff_see_every_export_and_whose_it_is(admin_api, alices_export):
    listing = admin_api.get("/api/exports").json()
    assert listing["total"] == 1 and listing["results"][0]["owner"] == "alice"
    assert admin_api.get(f"/api/exports/{alices_export.pk}").json()["owner"] == "alice"


def test_owner_is_read_only_a_patch_naming_another_owner_changes_nothing(
    alice_api, alices_export, alice
):
    response = send(alice_api, "patch", f"/api/exports/{alices_export.pk}", {"owner": "bob"})
    assert response.status_code == 200 and response.json()["owner"] == "alice"
    alices_export.refresh_from_db()
    assert alices_export.owner == alice


def test_a_staff_update_keeps_the_owner(admin_api, alices_export, alice):
    assert send(admin_api, "put", f"/api/exports/{alices_export.pk}", ONE_TIME).status_code == 200
    alices_export.refresh_from_db()
    assert alices_export.owner == alice


def test_the_session_works_with_csrf_for_unsafe_methods(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.get("/api/exports").status_code == 200
    refused = send(client, "post", "/api/exports", ONE_TIME)
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["errors"][0]["message"]
    client.get(reverse("exports:tokens"))  # any page sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    created = client.post(
        "/api/exports",
        json.dumps(ONE_TIME),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert created.status_code == 201


def test_a_token_records_when_it_was_last_used(alice):
    secret = issue(alice)
    bearer(secret).get("/api/exports")
    assert ApiToken.objects.get().last_used_at is not None


# --- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("body", [ONE_TIME, RICH], ids=["one-time", "rich"])
def test_what_is_posted_reads_back_as_dumpexport_prints_it(alice_api, body):
    created = send(alice_api, "post", "/api/exports", body)
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    out = io.StringIO()
    call_command("dumpexport", str(pk), stdout=out)
    dumped = json.loads(out.getvalue())
    assert alice_api.get(f"/api/exports/{pk}").json() == dumped
    assert created.json() == dumped


def test_the_reference_pages_shape_is_accepted_too(alice_api):
    body = {
        "type": "oneTime",
        "format": {"extension": "xls"},
        "items": [{"target": "temperature", "label": "T", "channelId": "c1", "subtopic": "s"}],
        "notification": {"title": "Ready", "text": "Here", "medium": "email"},
    }
    created = send(alice_api, "post", "/api/exports", body)
    assert created.status_code == 201, created.content
    assert created.json()["format"]["extension"] == "xlsx"
    assert created.json()["items"][0]["params"]["target"] == {"value": "temperature", "label": "T"}


class _FormFields(HTMLParser):
    """The fields a browser would submit from the form with id ``form_id``, untouched."""

    def __init__(self, form_id: str):
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []
        self._multiple = False
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
        if not self.inside or "disabled" in attrs:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.fields.append((name, attrs.get("value", "on")))
            elif kind not in ("submit", "button", "reset", "file"):
                self.fields.append((name, attrs.get("value") or ""))
        elif tag == "select" and name:
            self._select, self._options, self._multiple = name, [], "multiple" in attrs
        elif tag == "option" and self._select is not None:
            self._options.append((attrs.get("value", ""), "selected" in attrs))
        elif tag == "textarea" and name:
            self._textarea, self._text = name, ""

    def handle_data(self, data):
        if self._textarea is not None:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select is not None:
            chosen = [value for value, selected in self._options if selected]
            if not chosen and not self._multiple and self._options:
                chosen = [self._options[0][0]]  # a single select submits its first option
            self.fields += [(self._select, value) for value in chosen]
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            # Browsers drop the one newline that follows <textarea>.
            self.fields.append((self._textarea, self._text.removeprefix("\n")))
            self._textarea = None


def test_an_api_created_request_opens_and_saves_unchanged_in_the_editor(alice_api, alice):
    pk = send(alice_api, "post", "/api/exports", RICH).json()["id"]
    before = dump_request(ExportRequest.objects.get(pk=pk))
    page = Client()
    page.force_login(alice)
    form = page.get(reverse("exports:edit", args=[pk]))
    assert form.status_code == 200
    parser = _FormFields("request-form")
    parser.feed(form.content.decode())
    data: dict[str, list[str]] = {}
    for name, value in parser.fields:
        data.setdefault(name, []).append(value)
    saved = page.post(reverse("exports:edit", args=[pk]), data)
    assert saved.status_code == 302, saved.content.decode()[:3000]
    after = dump_request(ExportRequest.objects.get(pk=pk))
    before.pop("updatedAt"), after.pop("updatedAt")
    assert after == before


def test_patch_merges_objects_and_replaces_lists(alice_api):
    pk = send(alice_api, "post", "/api/exports", RICH).json()["id"]
    patched = send(
        alice_api,
        "patch",
        f"/api/exports/{pk}",
        {"format": {"extension": "csv", "filename": None}, "notification": None},
    )
    assert patched.status_code == 200, patched.content
    body = patched.json()
    assert body["format"]["extension"] == "csv"
    assert "filename" not in body["format"]
    assert body["format"]["columns"] == RICH["format"]["columns"]
    assert "notification" not in body
    assert len(body["items"]) == 2
    as_merge_patch = send(
        alice_api, "patch", f"/api/exports/{pk}", {"name": "B"}, "application/merge-patch+json"
    )
    assert as_merge_patch.status_code == 200 and as_merge_patch.json()["name"] == "B"


# --- errors --------------------------------------------------------------------------------


def test_a_validation_error_is_a_400_with_the_validators_paths_and_saves_nothing(alice_api):
    body = json.loads(json.dumps(RICH))
    body["items"][0]["params"]["decimation"]["ds"] = "0m"
    response = send(alice_api, "post", "/api/exports", body)
    assert response.status_code == 400
    paths = [error["path"] for error in response.json()["errors"]]
    assert "items[0].params.decimation.ds" in paths
    assert not ExportRequest.objects.exists()


def test_an_invalid_update_changes_nothing(alice_api, alices_export):
    before = dump_request(alices_export)
    response = send(alice_api, "put", f"/api/exports/{alices_export.pk}", {"type": "weekly"})
    assert response.status_code == 400
    alices_export.refresh_from_db()
    assert dump_request(alices_export) == before


@pytest.mark.parametrize(
    "body, content_type, status",
    [
        ("{not json", "application/json", 400),
        ("[1, 2]", "application/json", 400),
        ("", "application/json", 400),
        ("name=x", "application/x-www-form-urlencoded", 415),
    ],
)
def test_a_body_that_is_not_a_json_request_is_a_clear_error(alice_api, body, content_type, status):
    response = send(alice_api, "post", "/api/exports", body, content_type)
    assert response.status_code == status
    assert response.json()["errors"][0]["message"]


def test_a_request_body_over_djangos_upload_limit_is_a_413(alice_api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    response = send(alice_api, "post", "/api/exports", RICH)
    assert response.status_code == 413
    assert "DATA_UPLOAD_MAX_MEMORY_SIZE (100 bytes)" in response.json()["errors"][0]["message"]
    assert not ExportRequest.objects.exists()


def test_bad_query_parameters_are_a_400_naming_the_parameter(alice_api):
    response = alice_api.get("/api/exports?page=0&pageSize=1000&status=bogus&sort=owner")
    assert response.status_code == 400
    paths = {error["path"] for error in response.json()["errors"]}
    assert paths == {"page", "pageSize", "status[0]", "sort"}


def test_a_full_queue_is_a_429_and_saves_nothing(alice_api, settings):
    settings.EXPORTS_MAX_QUEUED_PER_USER = 1
    assert send(alice_api, "post", "/api/exports", ONE_TIME).status_code == 201
    refused = send(alice_api, "post", "/api/exports", ONE_TIME)
    assert refused.status_code == 429
    assert refused.json()["errors"][0]["message"] == "Maximum number of queued exports reached"
    assert ExportRequest.objects.count() == 1


def test_run_now_at_the_cap_is_a_429(alice_api, alices_export, settings):
    settings.EXPORTS_MAX_QUEUED_PER_USER = 1
    ExportJob.objects.create(request=alices_export, slot=datetime(2026, 1, 1, tzinfo=UTC))
    refused = alice_api.post(f"/api/exports/{alices_export.pk}/run")
    assert refused.status_code == 429
    assert refused.json()["errors"][0]["message"] == "Maximum number of queued exports reached"


def test_throttling_counts_per_user_and_says_when_to_retry(alice, bob, settings, redis_conn):
    settings.API_THROTTLE_RATE = "3/minute"
    first, second = bearer(issue(alice)), bearer(issue(alice))
    assert [first.get("/api/series").status_code for _ in range(3)] == [200, 200, 200]
    throttled = first.get("/api/series")
    assert throttled.status_code == 429
    assert 0 < int(throttled["Retry-After"]) <= 60
    assert throttled.json()["errors"][0]["message"].startswith("Request was throttled")
    # Another token of the same user shares the limit; another user has their own.
    assert second.get("/api/series").status_code == 429
    assert bearer(issue(bob)).get("/api/series").status_code == 200


# --- behaviour -----------------------------------------------------------------------------


def test_creating_a_one_time_request_queues_its_job(alice_api):
    pk = send(alice_api, "post", "/api/exports", ONE_TIME).json()["id"]
    job = ExportJob.objects.get(request_id=pk)
    assert job.status == JobStatus.NOT_PROCESSED
    listed = alice_api.get(f"/api/exports/{pk}/jobs").json()
    assert [row["id"] for row in listed["results"]] == [job.pk]


def test_a_paused_one_time_request_waits_until_resumed(alice_api):
    pk = send(alice_api, "post", "/api/exports", {**ONE_TIME, "paused": True}).json()["id"]
    assert not ExportJob.objects.filter(request_id=pk).exists()
    resumed = alice_api.post(f"/api/exports/{pk}/resume")
    assert resumed.status_code == 200 and "paused" not in resumed.json()
    assert ExportJob.objects.filter(request_id=pk).count() == 1
    paused = alice_api.post(f"/api/exports/{pk}/pause")
    assert paused.json()["paused"] is True


def test_changes_emit_the_pages_iam_events_with_the_tokens_user_as_actor(
    alice_api, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        pk = send(alice_api, "post", "/api/exports", RICH).json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        send(alice_api, "patch", f"/api/exports/{pk}", {"name": "Renamed"})
    with django_capture_on_commit_callbacks(execute=True):
        alice_api.delete(f"/api/exports/{pk}")
    events = list(IamEvent.objects.order_by("id").values_list("action", "actor", "resource"))
    resource = f"exporter:exports:{pk}"
    assert events == [
        ("exporter:exports:create", alice.pk, resource),
        ("exporter:exports:update", alice.pk, resource),
        ("exporter:exports:delete", alice.pk, resource),
    ]


def test_the_list_filters_by_last_job_status_and_type_and_sorts(alice_api, alice):
    names = ["b", "a", "c"]
    for name in names:
        export = ExportRequest.objects.create(owner=alice, name=name)
        ExportJob.objects.create(
            request=export,
            slot=datetime(2026, 1, 1, tzinfo=UTC),
            status=JobStatus.DONE if name != "c" else JobStatus.FAILED,
        )
    done = alice_api.get("/api/exports?status=done&sort=name").json()
    assert [row["name"] for row in done["results"]] == ["a", "b"]
    assert all(row["status"] == "done" for row in done["results"])
    several = alice_api.get("/api/exports?status=done&status=failed&sort=-name&pageSize=2").json()
    assert [row["name"] for row in several["results"]] == ["c", "b"]
    assert several["total"] == 3
    assert alice_api.get("/api/exports?type=recurring").json()["total"] == 0


def test_a_job_reads_with_progress_window_and_download_link(alice_api, done_job):
    body = alice_api.get(f"/api/jobs/{done_job.pk}").json()
    assert body["status"] == "done" and body["progress"] == 100
    assert body["download"] == f"http://testserver/api/jobs/{done_job.pk}/download"
    assert body["exportId"] == done_job.request_id


def test_downloads_stream_the_file_with_the_pages_name_and_headers(alice_api, alice, done_job):
    page = Client()
    page.force_login(alice)
    from_page = page.get(reverse("exports:job-download", args=[done_job.request_id, done_job.pk]))
    for url in (
        f"/api/jobs/{done_job.pk}/download",
        f"/api/exports/{done_job.request_id}/download",
    ):
        response = alice_api.get(url)
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == b"time,value\n1,2\n"
        assert response["Content-Disposition"] == from_page["Content-Disposition"]
        assert response["Content-Type"] == from_page["Content-Type"]


def test_a_download_is_recorded_as_an_iam_event_like_the_pages_one(alice_api, alice, done_job):
    page = Client()
    page.force_login(alice)
    page.get(reverse("exports:job-download", args=[done_job.request_id, done_job.pk]))
    alice_api.get(f"/api/jobs/{done_job.pk}/download")
    alice_api.head(f"/api/jobs/{done_job.pk}/download")  # a HEAD downloads nothing
    events = IamEvent.objects.filter(action="exporter:exports:download").order_by("id")
    assert [(e.actor, e.resource, e.snapshot["via"]) for e in events] == [
        (alice, f"exporter:exports:{done_job.request_id}", "page"),
        (alice, f"exporter:exports:{done_job.request_id}", "api"),
    ]
    assert events[0].snapshot["job"] == done_job.pk


def test_an_expired_file_is_a_410(alice_api, done_job):
    ExportJob.objects.filter(pk=done_job.pk).update(status=JobStatus.EXPIRED)
    for url in (
        f"/api/jobs/{done_job.pk}/download",
        f"/api/exports/{done_job.request_id}/download",
    ):
        response = alice_api.get(url)
        assert response.status_code == 410
        assert "expired" in response.json()["errors"][0]["message"]


def test_an_export_without_a_finished_job_has_nothing_to_download(alice_api, alices_export):
    response = alice_api.get(f"/api/exports/{alices_export.pk}/download")
    assert response.status_code == 404
    assert response.json()["errors"][0]["message"] == "This export has no finished file yet."


def test_the_preview_shows_rows_as_the_file_will_hold_them(alice_api, alice):
    ChannelGrant.objects.create(user=alice, channel_id="c1", can_publish=True)
    send(alice_api, "post", "/api/channels/c1/messages/events.data", PACK)
    body = {**ONE_TIME, "format": {"extension": "csv", "columns": [{"id": "value", "label": "v"}]}}
    body["items"] = [
        {
            "params": {
                "target": {"value": "urn:dev:ow:10e2073a01080063:temperature"},
                "channelId": "c1",
                "subtopic": "events.data",
            }
        }
    ]
    preview = send(alice_api, "post", "/api/exports/preview", body)
    assert preview.status_code == 200, preview.content
    item = preview.json()["items"][0]
    assert item["headers"] == ["v"]
    assert item["rows"] == [["21.5"], ["21.75"]]
    assert item["estimatedRows"] == 2
    assert not ExportRequest.objects.exists()


def test_a_bad_preview_is_the_same_400_as_saving(alice_api):
    body = {**ONE_TIME, "format": {"extension": "docx"}}
    preview = send(alice_api, "post", "/api/exports/preview", body)
    saved = send(alice_api, "post", "/api/exports", body)
    assert preview.status_code == saved.status_code == 400
    assert preview.json() == saved.json()


def test_the_series_catalog_is_filtered_named_and_paginated(alice_api, admin_api):
    send(admin_api, "post", "/api/channels/c1/messages/events.data?publisher=dev-1", PACK)
    send(admin_api, "post", "/api/channels/c2/messages/events.data?publisher=dev-2", PACK[:2])
    from exports.models import Channel

    Channel.objects.filter(channel_id="c1").update(name="Greenhouse north")
    everything = alice_api.get("/api/series").json()
    assert everything["total"] == 5
    found = alice_api.get("/api/series?q=greenhouse north&pageSize=2").json()
    assert found["total"] == 4 and len(found["results"]) == 2
    row = alice_api.get("/api/series?channel=c2").json()["results"][0]
    assert row == {
        "channel": "c2",
        "channelName": "",
        "subtopic": "events.data",
        "publisher": "dev-2",
        "publisherName": "",
        "name": "urn:dev:ow:10e2073a01080063:temperature",
        "unit": "Cel",
        "count": 2,
        "first": "2023-11-14T22:13:20Z",
        "last": "2023-11-14T22:18:20Z",
    }
    named = alice_api.get("/api/series?channel=c1&q=humidity").json()["results"][0]
    assert named["channelName"] == "Greenhouse north"


def test_the_schema_and_its_docs_are_served_from_the_packages_own_files(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/exports/{id}/download" in paths
    docs = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in docs
    assert "//cdn" not in docs and "https://" not in docs


@pytest.mark.parametrize("path", ["/api/nothing", "/api/exports/abc", "/api/jobs/1/x\ny"])
def test_an_unknown_api_path_is_a_json_404(alice_api, path):
    response = alice_api.get(path)
    assert response.status_code == 404
    assert response.json() == {"errors": [{"path": "", "message": "No such API endpoint."}]}
