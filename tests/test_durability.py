"""Nothing held only in Redis: deliveries' due times in rows, the tick that re-hands lost work,
unknown deliveries and "Resend", the per-installation namespace, scheduled retention."""

import logging
from datetime import timedelta

import django_rq
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone
from rq import SimpleWorker
from rq.registry import FailedJobRegistry

from exports.files.retention import prune_if_due
from exports.models import ExportJob, Installation, JobStatus
from exports.queue import dispatch as export_dispatch
from exports.queue import namespace
from exports.queue.reaper import reap
from exports.requests.vocabulary import Medium
from notifications.dispatch import job_finished, tick
from notifications.models import Delivery, DeliveryStatus, DownloadLink
from tests.test_notifications_fakes import (
    Reply,
    add_message,
    make_job,
    make_request,
)


@pytest.fixture
def export_request(alice):
    return make_request(alice)


def run_tick(now=None):
    # The tick enqueues after its commits; inside a `db` test those run when captured.
    with TestCase.captureOnCommitCallbacks(execute=True):
        return tick(now)


def work(queue: str = "notifications") -> None:
    django_rq.get_worker(namespace.queue_name(queue), worker_class=SimpleWorker).work(burst=True)


def only_delivery() -> Delivery:
    [delivery] = Delivery.objects.all()
    return delivery


def later(seconds: float):
    return timezone.now() + timedelta(seconds=seconds)


# --- the database owns every due time ---------------------------------------------------------


@pytest.mark.django_db
def test_it_sends_a_delivery_once_after_redis_lost_it(
    chat, export_request, redis_conn, django_capture_on_commit_callbacks
):
    add_message(export_request, Medium.SLACK, f"{chat.base_url}/hook")
    with django_capture_on_commit_callbacks(execute=True):
        assert job_finished(make_job(export_request).pk) == 1
    delivery = only_delivery()
    assert delivery.enqueued_at is not None and delivery.rq_job_id.startswith("test-delivery-")
    redis_conn.flushdb()  # Redis restarted empty: the queued delivery is gone
    work()
    assert chat.requests == []
    assert run_tick().released == 0  # too soon: it may be between commit and enqueue
    result = run_tick(later(31))
    assert (result.released, result.handed_over) == (1, 1)
    # A new RQ id for the new hand-over: never one Redis (or a previous database) has seen.
    assert only_delivery().rq_job_id not in ("", delivery.rq_job_id)
    work()
    work()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 1
    assert len(chat.requests) == 1


@pytest.mark.django_db
def test_it_keeps_a_retry_in_the_row_and_hands_it_over_only_when_due(
    chat, export_request, redis_conn, django_capture_on_commit_callbacks, settings
):
    settings.NOTIFICATIONS_RETRY_BACKOFF = [60]
    chat.replies.append(Reply(503, "down"))
    add_message(export_request, Medium.SLACK, f"{chat.base_url}/hook")
    with django_capture_on_commit_callbacks(execute=True):
        job_finished(make_job(export_request).pk)
    work()
    delivery = only_delivery()
    assert delivery.status == DeliveryStatus.PENDING and delivery.enqueued_at is None
    assert not django_rq.get_queue(
        namespace.queue_name("notifications")
    ).job_ids  # nothing waits in Redis
    redis_conn.flushdb()
    assert run_tick().handed_over == 0  # not due before its backoff
    assert run_tick(delivery.next_attempt_at).handed_over == 1
    work()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 2
    assert len(chat.requests) == 2


@pytest.mark.django_db
def test_it_records_the_deliveries_of_a_job_whose_worker_died_before_notifying(
    chat, export_request, redis_conn
):
    add_message(export_request, Medium.SLACK, f"{chat.base_url}/hook")
    job = make_job(export_request)  # done, but job_finished never ran
    assert run_tick().notified_jobs == 0  # the finishing worker may still be on it
    assert run_tick(later(31)).notified_jobs == 1
    work()
    job.refresh_from_db()
    assert job.notified_at is not None and len(chat.requests) == 1
    assert run_tick(later(62)).notified_jobs == 0
    work()
    assert len(chat.requests) == 1


@pytest.mark.django_db
def test_it_marks_a_delivery_stuck_in_sending_unknown_and_never_resends_it_by_itself(
    chat, export_request, redis_conn, settings
):
    settings.NOTIFICATIONS_SENDING_TIMEOUT = 300
    add_message(export_request, Medium.SLACK, f"{chat.base_url}/hook")
    job = make_job(export_request)
    job_finished(job.pk)
    assert Delivery.objects.claim(only_delivery().pk)  # a worker took it, then died mid-send
    assert run_tick(later(299)).unknown == 0
    assert run_tick(later(301)).unknown == 1
    delivery = only_delivery()
    assert delivery.status == DeliveryStatus.UNKNOWN and "may or may not" in delivery.last_error
    assert run_tick(later(1000)).handed_over == 0
    work()
    assert chat.requests == []


@pytest.mark.django_db
def test_the_owner_resends_an_unknown_delivery_from_the_request_page(
    chat, export_request, redis_conn, client, alice, django_capture_on_commit_callbacks
):
    add_message(export_request, Medium.SLACK, f"{chat.base_url}/hook")
    job = make_job(export_request)
    job_finished(job.pk)
    delivery = only_delivery()
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.UNKNOWN, attempts=1)
    client.force_login(alice)
    page = client.get(reverse("exports:detail", args=[export_request.pk])).content.decode()
    resend_url = reverse("notifications:resend-delivery", args=[delivery.pk])
    assert f'action="{resend_url}"' in page and "Resend" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(resend_url)
    assert response.status_code == 302
    work()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 2
    assert len(chat.requests) == 1
    client.post(resend_url)  # a second click: it is sent, not unknown
    work()
    assert len(chat.requests) == 1


@pytest.mark.django_db
def test_only_the_owner_and_staff_may_resend(export_request, redis_conn, client, bob, admin_user):
    add_message(export_request, Medium.EMAIL)
    job_finished(make_job(export_request).pk)
    delivery = only_delivery()
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.UNKNOWN)
    url = reverse("notifications:resend-delivery", args=[delivery.pk])
    client.force_login(bob)
    assert client.post(url).status_code == 404
    assert only_delivery().status == DeliveryStatus.UNKNOWN
    assert client.get(url).status_code == 405
    client.force_login(admin_user)
    assert client.post(url).status_code == 302
    assert only_delivery().status == DeliveryStatus.PENDING


@pytest.mark.django_db
def test_the_admin_resends_only_unknown_deliveries(
    export_request, redis_conn, client, admin_user, django_capture_on_commit_callbacks
):
    add_message(export_request, Medium.EMAIL)
    add_message(export_request, Medium.EMAIL, "ops@example.org")
    job_finished(make_job(export_request).pk)
    unknown, sent = Delivery.objects.order_by("pk")
    Delivery.objects.filter(pk=unknown.pk).update(status=DeliveryStatus.UNKNOWN)
    Delivery.objects.filter(pk=sent.pk).update(status=DeliveryStatus.SENT)
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:notifications_delivery_changelist"),
            {"action": "resend", "_selected_action": [unknown.pk, sent.pk]},
            follow=True,
        )
    assert "1 delivery(ies) will be sent again; 1 skipped" in response.content.decode()
    unknown.refresh_from_db()
    sent.refresh_from_db()
    assert unknown.status == DeliveryStatus.PENDING and unknown.enqueued_at is not None
    assert sent.status == DeliveryStatus.SENT


@pytest.mark.django_db
def test_it_mints_a_download_link_only_for_the_attempt_that_was_sent(
    chat, export_request, redis_conn, settings
):
    settings.NOTIFICATIONS_RETRY_BACKOFF = [1]
    chat.replies.extend([Reply(500, "oops"), Reply(500, "oops")])
    add_message(export_request, Medium.SLACK, f"{chat.base_url}/hook")
    job_finished(make_job(export_request).pk)
    for _ in range(3):
        run_tick(later(5))
        work()
    delivery = only_delivery()
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 3
    assert list(DownloadLink.objects.all()) == [delivery.link]
    assert len(chat.requests) == 3


# --- one Redis, many installations ------------------------------------------------------------


@pytest.mark.django_db
def test_it_stores_a_random_instance_on_first_use_when_none_is_configured(settings):
    settings.EXPORTS_INSTANCE = ""
    namespace.forget_stored_instance()
    try:
        first = namespace.instance()
        assert Installation.objects.get().instance_id == first
        assert len(first) == 12 and namespace.INSTANCE_PATTERN.match(first)
        assert export_dispatch.rq_job_id(7, 1) == f"{first}-export-job-7"
        assert namespace.redis_key("dispatch:lock") == f"exporter:{first}:dispatch:lock"
    finally:
        namespace.forget_stored_instance()


def test_a_configured_instance_must_be_a_plain_name(settings):
    settings.EXPORTS_INSTANCE = "site-a"
    with pytest.raises(ImproperlyConfigured, match="letters, digits or underscores"):
        namespace.instance()
    settings.EXPORTS_INSTANCE = "site_a"
    assert export_dispatch.rq_job_id(3, 2) == "site_a-export-job-3-attempt-2"
    assert namespace.is_ours("site_a-delivery-1-ab") and not namespace.is_ours("site_b-x")


@pytest.mark.django_db
def test_a_worker_drops_a_foreign_or_orphan_export_job_with_one_line(redis_conn, caplog):
    queue = django_rq.get_queue(namespace.queue_name("exports"), commit_mode="auto")
    queue.enqueue(export_dispatch.RUN_EXPORT_JOB, 1, job_id="other-export-job-1")
    queue.enqueue(export_dispatch.RUN_EXPORT_JOB, 987654, job_id="test-export-job-987654")
    with caplog.at_level(logging.WARNING, logger="exports.queue.runner"):
        work("exports")
    assert [r.getMessage() for r in caplog.records if r.name == "exports.queue.runner"] == [
        "Dropped RQ job other-export-job-1: it belongs to another installation.",
        "Dropped RQ job for export job 987654: no such job in the database.",
    ]
    assert not any(r.exc_info for r in caplog.records)
    assert FailedJobRegistry(queue=queue).get_job_ids() == []


@pytest.mark.django_db
def test_a_worker_drops_a_foreign_or_orphan_delivery_with_one_line(redis_conn, caplog):
    queue = django_rq.get_queue(namespace.queue_name("notifications"), commit_mode="auto")
    queue.enqueue("notifications.jobs.deliver", 1, job_id="other-delivery-1-aa")
    queue.enqueue("notifications.jobs.deliver", 987654, job_id="test-delivery-987654-aa")
    with caplog.at_level(logging.WARNING, logger="notifications.jobs"):
        work()
    assert [r.getMessage() for r in caplog.records if r.name == "notifications.jobs"] == [
        "Dropped RQ job other-delivery-1-aa: it belongs to another installation.",
        "Dropped RQ job for delivery 987654: no such delivery.",
    ]
    assert FailedJobRegistry(queue=queue).get_job_ids() == []


@pytest.mark.django_db
def test_a_job_another_installation_dropped_is_handed_over_again_without_an_attempt(
    alice, redis_conn, settings, django_capture_on_commit_callbacks
):
    from tests.test_scheduler import make_one_time

    request = make_one_time(alice)
    with django_capture_on_commit_callbacks(execute=True):
        job = ExportJob.objects.create(request=request, slot=timezone.now(), windows=[])
        export_dispatch.dispatch()
    job.refresh_from_db()
    rq_id = job.rq_job_id
    # A worker of another installation told to serve our queue by its name takes our job.
    worker = django_rq.get_worker(namespace.queue_name("exports"), worker_class=SimpleWorker)
    settings.EXPORTS_INSTANCE = "other"
    worker.work(burst=True)
    settings.EXPORTS_INSTANCE = "test"
    assert reap(now=later(31)).released == 1
    job.refresh_from_db()
    assert (job.status, job.attempts, job.enqueued_at) == (JobStatus.NOT_PROCESSED, 0, None)
    assert rq_id == f"test-export-job-{job.pk}"


# --- retention runs by itself -----------------------------------------------------------------


@pytest.mark.django_db
def test_the_scheduler_prunes_at_most_once_per_interval(export_request, settings):
    settings.EXPORTS_PRUNE_INTERVAL = "PT1H"
    settings.EXPORTS_RETENTION = "P1D"
    old = make_job(export_request)
    ExportJob.objects.filter(pk=old.pk).update(finished_at=timezone.now() - timedelta(days=2))
    assert prune_if_due().expired_by_age == 1
    old.refresh_from_db()
    assert old.status == JobStatus.EXPIRED
    assert prune_if_due(later(1800)) is None  # another scheduler within the hour: skipped
    assert prune_if_due(later(3601)) is not None
    settings.EXPORTS_PRUNE_INTERVAL = "P0D"
    assert prune_if_due(later(99999)) is None


@pytest.mark.django_db(transaction=True)
def test_runscheduler_once_prunes_and_hands_over_deliveries(
    export_request, redis_conn, settings, capsys
):
    settings.EXPORTS_RETENTION = "P1D"
    old = make_job(export_request)
    two_days_ago = timezone.now() - timedelta(days=2)
    ExportJob.objects.filter(pk=old.pk).update(finished_at=two_days_ago, notified_at=two_days_ago)
    other = make_request(export_request.owner, name="Other")
    add_message(other, Medium.EMAIL)
    job_finished(make_job(other).pk)
    # As if the enqueue after the commit never happened.
    redis_conn.flushdb()
    Delivery.objects.update(enqueued_at=None)
    call_command("runscheduler", "--once")
    out = capsys.readouterr().out
    assert "Retention: 1 job(s) expired past retention" in out
    assert "Deliveries: 1 handed to the queue" in out
    assert len(django_rq.get_queue(namespace.queue_name("notifications")).job_ids) == 1


@pytest.mark.django_db(transaction=True)
def test_resend_in_a_real_browser_sends_an_unknown_delivery_once(
    live_server, chromium_page, chat, redis_conn, alice
):
    request = make_request(alice)
    add_message(request, Medium.SLACK, f"{chat.base_url}/hook")
    job_finished(make_job(request).pk)
    Delivery.objects.update(
        status=DeliveryStatus.UNKNOWN, attempts=1, last_error="The worker stopped while sending."
    )
    redis_conn.flushdb()  # the hand-over job_finished enqueued: not what this test is about
    page = chromium_page
    page.goto(live_server.url + reverse("login"))
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("alice-pass-123")
    page.get_by_role("button", name="Sign in").click()
    page.goto(live_server.url + request.get_absolute_url())
    block = page.locator(".delivery-unknown")
    assert "Outcome unknown: The worker stopped while sending." in block.inner_text()
    page.screenshot(path="/tmp/h11a-resend-before.png", full_page=True)
    block.get_by_role("button", name="Resend").click()
    page.wait_for_url(live_server.url + request.get_absolute_url())
    assert "The notification will be sent again." in page.locator(".messages").inner_text()
    assert page.locator(".delivery-unknown").count() == 0
    work()
    page.reload()
    page.screenshot(path="/tmp/h11a-resend-after.png", full_page=True)
    assert "Sent after 2 attempts" in page.locator(".delivery-sent").inner_text()
    assert len(chat.requests) == 1
