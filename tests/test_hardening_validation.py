"""Hardening: numbers too large for the duration arithmetic are field errors, never 500s.

``"ds": "99999999999y"`` (and h, d, w, M with 10–11 digits) once overflowed ``timedelta`` inside
the validator; the API, the editor and the admin share that validator. And an unexpected
exception in an API view is a JSON 500 even with ``DEBUG`` on, never Django's HTML page.
"""

import json

import pytest
from django.core.exceptions import ValidationError

from exports.api.views import catalog
from exports.requests.durations import Duration
from exports.requests.validation import validate_ds, validate_duration, validate_periodicity
from tests.test_admin import REQUEST_JSON, add_form_data
from tests.test_admin import url as admin_url
from tests.test_api import ONE_TIME, RICH, send
from tests.test_editor import create

pytestmark = pytest.mark.django_db

HUGE_DS = [f"{'9' * digits}{unit}" for unit in "hdwMy" for digits in (10, 11)] + [
    "99999999999y",
    "999999999999s",
    "9" * 40 + "m",
]
HUGE_DURATIONS = ["P99999999999Y", "P99999999999M", "P99999999999W", "PT99999999999H"]
DS_PATH = "items[0].params.decimation.ds"


@pytest.fixture
def alice_api(alice):
    from tests.test_api import bearer, issue

    return bearer(issue(alice))


def with_ds(document, ds):
    body = json.loads(json.dumps(document))
    body["items"][0]["params"]["decimation"] = {"ds": ds, "dsf": "avg"}
    return body


@pytest.mark.parametrize("ds", HUGE_DS)
def test_the_validator_refuses_a_huge_granularity_as_too_long(ds):
    with pytest.raises(ValidationError) as raised:
        validate_ds(ds)
    assert raised.value.code == "too_long"
    assert "longer than 100 years" in raised.value.messages[0]


@pytest.mark.parametrize(
    ("longest", "shortest_refused"),
    [("100y", "101y"), ("1200M", "1201M"), ("36524d", "36525d"), ("5217w", "5218w")],
)
def test_the_bound_itself_is_unchanged(longest, shortest_refused):
    validate_ds(longest)
    with pytest.raises(ValidationError):
        validate_ds(shortest_refused)


@pytest.mark.parametrize("text", HUGE_DURATIONS)
def test_huge_iso_durations_are_field_errors_too(text):
    for validator in (validate_duration, validate_periodicity, Duration.parse):
        with pytest.raises(ValidationError) as raised:
            validator(text)
        assert raised.value.code == "too_long"


@pytest.mark.parametrize("ds", ["99999999999y", "9999999999h", "99999999999M"])
def test_the_api_answers_400_with_the_fields_path(alice_api, ds):
    created = send(alice_api, "post", "/api/exports", with_ds(RICH, ds))
    assert created.status_code == 400, created.content
    assert DS_PATH in [error["path"] for error in created.json()["errors"]]

    previewed = send(alice_api, "post", "/api/exports/preview", with_ds(RICH, ds))
    assert previewed.status_code == 400, previewed.content
    assert DS_PATH in [error["path"] for error in previewed.json()["errors"]]

    saved = send(alice_api, "post", "/api/exports", ONE_TIME)
    assert saved.status_code == 201, saved.content
    patch = {"items": with_ds(ONE_TIME, ds)["items"]}
    patched = send(alice_api, "patch", f"/api/exports/{saved.json()['id']}", patch)
    assert patched.status_code == 400, patched.content
    assert DS_PATH in [error["path"] for error in patched.json()["errors"]]


@pytest.mark.parametrize("field", ["periodicity", "items[0].params.period"])
def test_a_huge_iso_duration_through_the_api_is_a_400(alice_api, field):
    body = json.loads(json.dumps(RICH))
    if field == "periodicity":
        body["periodicity"] = "P99999999999Y"
    else:
        body["items"][0]["params"]["period"] = "P99999999999Y"
    response = send(alice_api, "post", "/api/exports", body)
    assert response.status_code == 400, response.content
    assert field in [error["path"] for error in response.json()["errors"]]


def test_the_editor_shows_a_field_error(client, alice):
    client.force_login(alice)
    response = create(client, **{"items-0-ds": "99999999999y"})
    assert response.status_code == 422
    errors = [form.errors for form in response.context["editor"].items.forms]
    assert "longer than 100 years" in str(errors)


def test_the_admins_json_import_names_the_path(client, admin_user, alice):
    client.force_login(admin_user)
    document = with_ds(REQUEST_JSON, "99999999999y")
    response = client.post(
        admin_url(reverse_model(), "import_json"),
        {"owner": alice.pk, "document": json.dumps(document)},
    )
    assert response.status_code == 200
    errors = dict(response.context["schema_errors"])
    assert DS_PATH in errors


def test_the_admins_request_form_shows_a_field_error(client, admin_user, alice):
    client.force_login(admin_user)
    data = add_form_data(alice, **{"items-0-ds": "99999999999y", "items-0-dsf": "avg"})
    response = client.post(admin_url(reverse_model(), "add"), data)
    assert response.status_code == 200
    assert "longer than 100 years" in response.text
    assert not reverse_model().objects.exists()


def reverse_model():
    from exports.models import ExportRequest

    return ExportRequest


def test_an_unexpected_exception_with_debug_on_is_a_json_500(alice_api, settings, monkeypatch):
    settings.DEBUG = True

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(catalog.SeriesView, "get", broken)
    response = alice_api.get("/api/series")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "errors": [{"path": "", "message": "Internal server error: the failure has been logged."}]
    }
    assert b"Traceback" not in response.content and b"<html" not in response.content.lower()
