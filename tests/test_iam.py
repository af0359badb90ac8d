"""IAM events: exactly one per create/update/delete, after commit, published to a Redis stream."""

import json

import pytest
from django.db import transaction
from django.test import override_settings

from exports.iam import acting_as, publish_pending_events
from exports.models import ExportColumn, ExportItem, ExportRequest, IamEvent
from exports.queue.namespace import NamespacedQueues, queue_name, redis_key
from exports.requests.schema import parse_request
from exports.requests.spec import save_spec

pytestmark = pytest.mark.django_db


def spec_for(owner, name="Temps"):
    return parse_request(
        {
            "name": name,
            "type": "oneTime",
            "format": {"extension": "csv", "columns": [{"id": "time", "label": "t"}]},
            "items": [
                {
                    "params": {
                        "target": {"value": "temperature"},
                        "channelId": "c1",
                        "subtopic": "events.data",
                    }
                }
            ],
        },
        owner=owner,
    )


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run on-commit callbacks of the block, as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def test_creating_a_request_with_children_emits_one_create_event(alice, redis_conn, committed):
    with committed(), acting_as(alice):
        request = save_spec(spec_for(alice))
    event = IamEvent.objects.get()
    assert event.operation == "export_request.create"
    assert event.action == "exporter:exports:create"
    assert event.resource == f"exporter:exports:{request.pk}"
    assert event.actor == alice and event.actor_name == "alice"
    assert event.snapshot["name"] == "Temps"
    assert event.snapshot["format"]["columns"] == [{"id": "time", "label": "t"}]


def test_updating_children_in_one_transaction_emits_one_update_event(alice, redis_conn, committed):
    with committed():
        request = save_spec(spec_for(alice))
    with committed(), transaction.atomic():
        request.name = "Renamed"
        request.save()
        ExportColumn.objects.create(request=request, column_id="value", label="v", position=1)
        request.items.first().delete()
        ExportItem.objects.create(
            request=request, target_value="humidity", channel_id="c1", subtopic="s"
        )
    operations = list(IamEvent.objects.order_by("id").values_list("operation", flat=True))
    assert operations == ["export_request.create", "export_request.update"]
    assert IamEvent.objects.latest("id").snapshot["name"] == "Renamed"


def test_deleting_a_request_emits_one_delete_event_with_its_last_state(
    alice, redis_conn, committed
):
    with committed():
        request = save_spec(spec_for(alice))
    request_id = request.pk
    with committed():
        request.delete()
    event = IamEvent.objects.latest("id")
    assert event.operation == "export_request.delete"
    assert event.resource == f"exporter:exports:{request_id}"
    assert event.snapshot["items"][0]["params"]["target"]["value"] == "temperature"
    assert IamEvent.objects.count() == 2


def test_a_rolled_back_change_emits_nothing(alice, redis_conn, committed):
    with committed(), pytest.raises(RuntimeError), transaction.atomic():
        save_spec(spec_for(alice))
        raise RuntimeError("boom")
    assert ExportRequest.objects.count() == 0
    assert IamEvent.objects.count() == 0
    # and the next transaction still emits its own event
    with committed():
        save_spec(spec_for(alice, name="After"))
    assert list(IamEvent.objects.values_list("snapshot__name", flat=True)) == ["After"]


def test_events_are_published_to_the_redis_stream(alice, redis_conn, committed, settings):
    with committed():
        request = save_spec(spec_for(alice))
    assert publish_pending_events() == 1
    entries = redis_conn.xrange(redis_key(settings.IAM_EVENTS_STREAM))
    assert len(entries) == 1
    fields = {k.decode(): v.decode() for k, v in entries[0][1].items()}
    assert fields["operation"] == "export_request.create"
    assert fields["resource"] == f"exporter:exports:{request.pk}"
    assert json.loads(fields["snapshot"])["name"] == "Temps"
    event = IamEvent.objects.get()
    assert event.published_at is not None and event.stream_id == entries[0][0].decode()
    # publishing again sends nothing twice
    assert publish_pending_events() == 0
    assert redis_conn.xlen(redis_key(settings.IAM_EVENTS_STREAM)) == 1


def test_the_publish_job_runs_on_a_real_worker(alice, redis_conn, settings, committed):
    import django_rq
    from rq import SimpleWorker

    with committed():
        save_spec(spec_for(alice))
    django_rq.get_worker(queue_name("default"), worker_class=SimpleWorker).work(burst=True)
    assert redis_conn.xlen(redis_key(settings.IAM_EVENTS_STREAM)) == 1
    assert IamEvent.objects.get().published_at is not None


def test_a_failed_publish_stays_in_the_outbox_and_is_retried(alice, redis_conn, committed):
    with committed():
        save_spec(spec_for(alice))
    broken = NamespacedQueues({"default": {"URL": "redis://127.0.0.1:1/0", "DEFAULT_TIMEOUT": 5}})
    with override_settings(RQ_QUEUES=broken):
        assert publish_pending_events() == 0
    event = IamEvent.objects.get()
    assert event.published_at is None
    assert event.publish_attempts == 1
    assert "Connection" in event.last_error or "connect" in event.last_error.lower()
    assert publish_pending_events() == 1
    event.refresh_from_db()
    assert event.published_at is not None and event.last_error == ""


def test_the_stream_is_capped(alice, redis_conn, committed, settings):
    settings.IAM_EVENTS_STREAM_MAXLEN = 5
    for index in range(300):
        IamEvent.objects.create(operation="export_request.update", action="x", resource=f"r{index}")
    publish_pending_events(limit=1000)
    # XADD MAXLEN ~ trims in whole macro-nodes, so the cap is approximate but bounded
    assert redis_conn.xlen(redis_key(settings.IAM_EVENTS_STREAM)) < 300


def test_a_save_in_autocommit_mode_emits_its_event(alice, redis_conn, transactional_db):
    request = ExportRequest.objects.create(owner=alice, name="Autocommit")
    request.name = "Renamed"
    request.save()
    operations = list(IamEvent.objects.order_by("id").values_list("operation", flat=True))
    assert operations == ["export_request.create", "export_request.update"]
