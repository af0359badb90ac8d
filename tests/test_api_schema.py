"""Generated-case testing of the API against its own served OpenAPI schema (schemathesis).

Every operation gets a bounded number of generated requests (valid and invalid bodies, query
parameters and ids) as alice, with a real token, in-process through the WSGI application:
no answer may be a 500, every answer must match what the schema documents for it, data the
schema calls invalid must be refused (negative data) and data it calls valid accepted
(positive data). Bodies that the request validator judges beyond the schema's reach (which
channels alice may read, metric names, schedule rules, SenML records) may be refused with a
400 even when well-formed: there the schema's 400 says so.
"""

import json

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from exports.models import ApiToken, ChannelGrant, ExportItem, ExportRequest

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    positive_data_acceptance,
]
# Operations whose well-formed bodies the validator may still refuse (400) for reasons no
# schema states: channel grants, metric names, time zones, schedules, users and teams by name.
SEMANTIC_BODIES = [
    "exports_create",
    "exports_replace",
    "exports_update",
    "exports_preview",
    "messages_ingest",
    "channel_grants_create",
    "groups_create",
    "groups_members_add",
    "exports_shares_create",
]
ACCEPTED = ["2xx", "401", "403", "404", "409", "429"]
CONFIG = SchemathesisConfig.from_dict(
    {
        # A NUL is refused everywhere (400) by design; README "Input that cannot hurt".
        "generation": {"allow-x00": False},
        "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}},
        "operations": [
            {
                "include-operation-id": SEMANTIC_BODIES,
                "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, 400]}},
            }
        ],
    }
)


@pytest.fixture
def keep_test_connection():
    """Keep the test's database connection open across requests, as Django's test client does.

    The WSGI handler closes connections when a request finishes; on PostgreSQL that would
    end the test's transaction after the first generated request.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def alice_secret(alice, redis_conn, keep_test_connection):
    ChannelGrant.objects.create(user=alice, channel_id="c1", can_publish=True)
    # A few of alice's requests, so generated small ids find real objects too.
    for index in range(3):
        export = ExportRequest.objects.create(owner=alice, name=f"Export {index}")
        ExportItem.objects.create(request=export, target_value="t", channel_id="c1")
    return ApiToken.objects.issue(alice, "fuzz")[1]


# Loaded once, at collection: the schema view needs neither the database nor a token.


@schemathesis.serializer("application/x-ndjson", "application/jsonl")
def json_lines(ctx, value) -> bytes:
    """Generated ingest bodies as JSON lines: one line per element of an array."""
    values = value if isinstance(value, list) else [value]
    return "\n".join(json.dumps(item) for item in values).encode()


schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application(), config=CONFIG)


@schema.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,  # nothing kept on disk between runs
)
def test_every_operation_answers_as_documented_and_never_500(case, alice_secret):
    case.call_and_validate(headers={"Authorization": f"Bearer {alice_secret}"}, checks=CHECKS)
