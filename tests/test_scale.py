"""Many small exports (issue 21 §1): the messages of an export are sent by the RQ job that
made its file, still once each; the worker builds what every job needs before forking."""

import django_rq
import pytest
from django.core import mail
from django.urls import clear_url_caches, get_resolver
from django.utils import timezone
from rq import SimpleWorker

from exports.models import ExportJob, JobStatus
from exports.queue import dispatch as export_dispatch
from exports.queue import namespace
from exports.queue.runner import run_job
from exports.queue.worker import warm_up
from notifications.models import Delivery, DeliveryStatus
from tests.test_notifications_fakes import add_message


def work(queue: str) -> None:
    django_rq.get_worker(namespace.queue_name(queue), worker_class=SimpleWorker).work(burst=True)


@pytest.fixture
def dispatched(alice, redis_conn, django_capture_on_commit_callbacks):
    from tests.test_scheduler import make_one_time

    request = make_one_time(alice)
    add_message(request, "email", "ops@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        job = ExportJob.objects.create(request=request, slot=timezone.now(), windows=[])
        export_dispatch.dispatch()
    job.refresh_from_db()
    return job


@pytest.mark.django_db(transaction=True)
def test_the_export_job_sends_its_messages_due_at_once(dispatched, redis_conn):
    work("exports")  # the exports queue only: no notification job is needed
    dispatched.refresh_from_db()
    assert dispatched.status == JobStatus.DONE
    [delivery] = Delivery.objects.all()
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 1
    assert delivery.rq_job_id == dispatched.rq_job_id  # handed to the export's own RQ job
    assert len(mail.outbox) == 1
    assert django_rq.get_queue(namespace.queue_name("notifications")).count == 0
    work("notifications")  # nothing left to send twice
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_outside_a_worker_messages_still_go_through_the_notifications_queue(dispatched):
    # exportnow / runexport: no RQ job runs the export, so RQ gets a delivery job as before.
    run_job(dispatched.pk)
    [delivery] = Delivery.objects.all()
    assert delivery.enqueued_at is not None and delivery.status == DeliveryStatus.PENDING
    assert mail.outbox == []
    work("notifications")
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT and len(mail.outbox) == 1


def test_the_worker_builds_the_url_resolver_before_forking():
    clear_url_caches()
    assert not get_resolver()._populated
    warm_up()
    assert get_resolver()._populated
