"""Fuzzing the three doors user input comes in by: the request JSON, the editor form and SenML.

Property, for every generated input: the answer is a clear refusal or a success — never an
unexpected exception (a 500) — and a refusal leaves every table exactly as it was; what is
accepted can be stored by the database and shown by its page.

Examples are bounded so the module runs in well under a minute (an editor POST renders the
whole page, so that door gets fewer); set ``FUZZ_EXAMPLES`` (examples of the JSON and SenML
tests; the editor gets a quarter) in the environment for a longer hunt.
"""

from __future__ import annotations

import copy
import io
import json
import os

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from exports.iam import acting_as
from exports.models import ExportColumn, ExportItem, ExportJob, ExportRequest, Message
from exports.models import NotificationMessage as NotificationRow
from exports.requests.dump import dump_request
from exports.requests.schema import RequestSchemaError, parse_request
from exports.requests.spec import save_spec
from tests.test_views import form_data, known_metrics  # noqa: F401 (autouse: metrics exist)

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "160"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # no example database written into the checkout
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FUZZ_PAGES = settings(FUZZ, max_examples=max(1, EXAMPLES // 4))

# --- building blocks ---------------------------------------------------------------------------

HOSTILE_TEXT = ["\x00", "a\x00b", "\ud800", "x\udfffy", "\u202e", "🌡", " ", "", "{rows}", "{x}"]
texts = st.one_of(st.text(max_size=12), st.sampled_from(HOSTILE_TEXT))


def _encodable(text: str) -> bool:
    """What a browser can send: UTF-8 cannot carry a lone surrogate."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


form_texts = texts.filter(_encodable)
numbers = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([10**400, -(10**400), 2**63, 2**64 + 0.5]),  # JSON has no size limit
)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(texts, children, max_size=3),
    max_leaves=8,
)
durations = st.one_of(
    st.from_regex(
        r"\AP(\d{1,13}([.,]\d{1,3})?[YMWD]){0,2}(T(\d{1,13}([.,]\d{1,3})?[HMS]){1,2})?\Z"
    ),
    st.sampled_from(["P1D", "PT1M", "PT15M", "P1M", "P1Y", "P100Y", "P2000Y", "PT0.001S", "-P1D"]),
    texts,
)
decimations = st.one_of(st.from_regex(r"\A\d{1,25}[smhdwMy]\Z"), texts)
timestamps = st.one_of(
    numbers,
    st.datetimes().map(lambda moment: moment.isoformat() + "Z"),
    st.sampled_from(["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-01-01T00:00:00"]),
    texts,
)
webhook_targets = st.sampled_from(
    [
        "https://hooks.slack.com/services/T/B/X",
        "https://[::1%lo]/hook",
        "https://a..b/hook",
        "https://[64:ff9b::7f00:1]/",
        "https://[2002:7f00:1::]/",
        "https://127.1/",
        "https://nowhere.invalid/x",
        "https://[::1/x",
        "https://hooks.slack.com:99999/x",
        "https://hooks.slack.com/\x00",
        "12345",
        "@channel_name",
        "alice@example.com",
    ]
)
ZONES = ["UTC", "Europe/Rome", "Asia/Kolkata", "America/St_Johns", "Nowhere/City"]

VALID_REQUEST = {
    "name": "Fuzzed",
    "type": "recurring",
    "periodicity": "P1D",
    "format": {"extension": "csv", "timezone": "Europe/Rome"},
    "items": [
        {
            "params": {
                "target": {"value": "temperature", "label": "T"},
                "channelId": "c1",
                "subtopic": "events.data",
                "period": "P1D",
            }
        }
    ],
    "notification": {"messages": [{"policy": "onSuccess", "medium": "email", "title": "Hi"}]},
}
REQUEST_MUTATIONS = {
    ("name",): texts,
    ("type",): st.sampled_from(["oneTime", "recurring", "weekly"]) | scalars,
    ("periodicity",): durations,
    ("periodStart",): timestamps,
    ("paused",): scalars,
    ("surprise",): json_values,
    ("format",): json_values,
    ("format", "extension"): st.sampled_from(["csv", "xls", "xlsx", "pdf", "json"]) | texts,
    ("format", "timezone"): st.sampled_from(ZONES) | texts,
    ("format", "template"): st.sampled_from(["tabular", "expanded"]) | texts,
    ("format", "csvDelimiter"): texts,
    ("format", "filename"): texts,
    ("format", "columns"): json_values
    | st.lists(st.fixed_dictionaries({"id": st.sampled_from(["time", "value"]), "label": texts})),
    ("items",): json_values,
    ("items", 0, "params", "target"): json_values,
    ("items", 0, "params", "channelId"): texts,
    ("items", 0, "params", "subtopic"): texts,
    ("items", 0, "params", "publisher"): texts,
    ("items", 0, "params", "from"): timestamps,
    ("items", 0, "params", "to"): timestamps,
    ("items", 0, "params", "period"): durations,
    ("items", 0, "params", "decimation"): st.fixed_dictionaries(
        {"ds": decimations}, optional={"dsf": texts}
    )
    | json_values,
    ("items", 0, "params", "transform"): st.sampled_from(["delta", ""]) | texts,
    ("items", 0, "params", "outputFormat"): st.sampled_from(["long", "wide"]) | texts,
    ("notification",): json_values,
    ("notification", "messages", 0, "medium"): st.sampled_from(
        ["email", "slack", "telegram", "discord"]
    ),
    ("notification", "messages", 0, "target"): webhook_targets | texts,
    ("notification", "messages", 0, "title"): texts,
    ("notification", "messages", 0, "text"): texts,
}


@st.composite
def request_documents(draw):
    """A valid request with a few fields replaced, or (sometimes) any JSON value at all."""
    if draw(st.integers(0, 19)) == 0:
        return draw(json_values)
    document = copy.deepcopy(VALID_REQUEST)
    paths = draw(st.lists(st.sampled_from(sorted(REQUEST_MUTATIONS, key=str)), max_size=4))
    for path in paths:
        node = document
        for key in path[:-1]:
            node = node[key] if isinstance(node, list | dict) and _has(node, key) else None
            if node is None:
                break
        if isinstance(node, dict) or (isinstance(node, list) and _has(node, path[-1])):
            node[path[-1]] = draw(REQUEST_MUTATIONS[path])
    return document


def _has(node, key) -> bool:
    return key in node if isinstance(node, dict) else isinstance(key, int) and key < len(node)


def table_counts() -> tuple[int, ...]:
    models = (ExportRequest, ExportItem, ExportColumn, NotificationRow, ExportJob, Message)
    return tuple(model.objects.count() for model in models)


# --- the request JSON ------------------------------------------------------------------------


@FUZZ
@given(document=request_documents())
def test_fuzzed_request_json_is_refused_cleanly_or_saved_whole(document, alice, client):
    before = table_counts()
    try:
        spec = parse_request(document, owner=alice)
    except RequestSchemaError as exc:
        assert exc.errors and table_counts() == before
        # The errors are shown on pages and printed by commands: they must encode.
        json.dumps(exc.errors, ensure_ascii=False).encode("utf-8")
        return
    event("saved")
    with acting_as(alice):
        request = save_spec(spec)
    assert table_counts()[0] == before[0] + 1
    # What was accepted round-trips and its page renders.
    parse_request(json.loads(json.dumps(dump_request(request))), owner=alice)
    client.force_login(alice)
    assert client.get(reverse("exports:detail", args=[request.pk])).status_code == 200


# --- the editor form ----------------------------------------------------------------------------

FORM_FIELDS = {
    "name": form_texts,
    "type": st.sampled_from(["oneTime", "recurring", "x"]),
    "periodicity": durations.filter(_encodable),
    "period_start": st.sampled_from(
        ["", "2026-01-01T00:00", "0001-01-01T00:00", "9999-12-31T23:59"]
    )
    | form_texts,
    "timezone": st.sampled_from(ZONES) | form_texts,
    "csv_delimiter": form_texts,
    "filename": form_texts,
    "items-0-target_value": form_texts,
    "items-0-target_label": form_texts,
    "items-0-channel_id": form_texts,
    "items-0-publisher": form_texts,
    "items-0-period": st.sampled_from(["P1D", "P2000Y", "P1.5M", "PT1S"]) | form_texts,
    "items-0-ds": st.from_regex(r"\A\d{1,25}[smhdwMy]\Z") | form_texts,
    "items-0-dsf": st.sampled_from(["avg", "max", "median"]),
    "items-0-from_time": st.sampled_from(["2025-01-01T00:00", "0001-01-01T00:00"]) | form_texts,
    "items-0-to_time": st.sampled_from(["2025-01-02T00:00", "9999-12-31T23:59"]) | form_texts,
    "messages-0-medium": st.sampled_from(["email", "slack", "telegram", "discord", "fax"]),
    "messages-0-target": webhook_targets.filter(lambda t: "\x00" not in t) | form_texts,
    "messages-0-title": form_texts,
    "messages-0-text": form_texts,
    "columns-0-label": form_texts,
    "columns-0-position": st.integers(-5, 10**6).map(str) | form_texts,
    "items-TOTAL_FORMS": st.sampled_from(["1", "0", "1000", "-1", "x"]),
    "preview": st.just("Preview"),  # the editor's preview runs the engine on the posted spec
    "confirm_unknown": form_texts,
}


@FUZZ_PAGES
@given(data=st.data())
def test_fuzzed_editor_posts_answer_a_page_never_a_500(data, alice, client):
    client.force_login(alice)
    names = data.draw(st.sets(st.sampled_from(sorted(FORM_FIELDS)), max_size=5), label="fields")
    values = {name: data.draw(FORM_FIELDS[name], label=name) for name in sorted(names)}
    before = table_counts()
    response = client.post(reverse("exports:create"), form_data(**values))
    event(f"HTTP {response.status_code}")  # see pytest --hypothesis-show-statistics
    # 200: a preview or a question about unknown metrics; 422: refused; 429: queue full.
    assert response.status_code in (200, 302, 422, 429), response.status_code
    if response.status_code != 302:
        assert table_counts() == before
        return
    detail = client.get(response["Location"])
    assert detail.status_code == 200


# --- SenML packs ---------------------------------------------------------------------------------

SENML_KEYS = ["bn", "bt", "bu", "bv", "bs", "bver", "n", "u", "v", "vs", "vb", "vd", "s", "t"]
senml_values = st.one_of(
    numbers,
    st.booleans(),
    st.from_regex(r"\A[a-zA-Z0-9][a-zA-Z0-9:./_-]{0,8}\Z"),
    texts,
    st.text(min_size=250, max_size=300, alphabet="ab"),  # longer than the name column
)
records = st.dictionaries(
    st.sampled_from(SENML_KEYS) | st.sampled_from(["l", "x_", "other"]), senml_values, max_size=6
)
packs = st.one_of(st.lists(records, max_size=4), json_values)


@FUZZ
@given(pack=packs)
def test_fuzzed_senml_is_stored_whole_or_refused_with_the_record(pack, tmp_path):
    path = tmp_path / "pack.json"
    path.write_text(json.dumps(pack))  # lone surrogates travel as \\ud800 escapes, like JSON
    before = table_counts()
    try:
        call_command(
            "ingest", str(path), channel="c", subtopic="s", publisher="p", stdout=io.StringIO()
        )
    except CommandError as exc:
        assert table_counts() == before
        str(exc).encode("utf-8")
        return
    stored = len(pack) if isinstance(pack, list) else 1
    assert table_counts()[-1] == before[-1] + stored
