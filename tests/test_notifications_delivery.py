"""Deliveries: policies, one send per message, retries on the notifications queue, test sends."""

import re
import threading
import time
from datetime import timedelta
from urllib.parse import urlsplit

import django_rq
import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.template import Context, Template
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone
from rq import SimpleWorker

from exports.queue.namespace import queue_name
from exports.requests.vocabulary import Medium, Policy
from notifications.dispatch import job_finished, tick
from notifications.jobs import deliver
from notifications.models import Delivery, DeliveryStatus, DownloadLog
from tests.test_notifications_fakes import (
    FILE_CONTENT,
    Reply,
    SmtpSink,
    add_message,
    make_job,
    make_request,
)


@pytest.fixture
def smtp(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    with SmtpSink() as sink:
        settings.EMAIL_PORT = sink.port
        yield sink


@pytest.fixture
def export_request(alice):
    return make_request(alice)


def work() -> None:
    """One scheduler step for deliveries (hands due rows to RQ), then one burst of a worker."""
    # The tick enqueues after its commits; inside a `db` test those run when captured.
    with TestCase.captureOnCommitCallbacks(execute=True):
        tick()
    django_rq.get_worker(queue_name("notifications"), worker_class=SimpleWorker).work(burst=True)


def work_until(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        work()
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("the delivery did not get there in time")


def finish(job, capture) -> int:
    with capture(execute=True):
        return job_finished(job.pk)


def only_delivery() -> Delivery:
    [delivery] = Delivery.objects.all()
    return delivery


@pytest.mark.django_db
def test_an_email_with_a_working_download_link_reaches_the_owner(
    smtp, export_request, redis_conn, django_capture_on_commit_callbacks, client
):
    add_message(export_request, Medium.EMAIL, title="{request_name} is ready")
    job = make_job(export_request)
    assert finish(job, django_capture_on_commit_callbacks) == 1
    work()
    [received] = smtp.mails
    assert received.recipients == ["alice@example.com"]
    assert received.message["Subject"] == "Boiler temps is ready"
    text = received.message.get_body(("plain",)).get_content()
    html = received.message.get_body(("html",)).get_content()
    link = re.search(r"Download: (\S+)", text).group(1)
    assert link.startswith("http://127.0.0.1:8000/d/") and f'href="{link}"' in html
    response = client.get(urlsplit(link).path)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == FILE_CONTENT
    assert response["Content-Disposition"] == (
        'attachment; filename="Boiler_temps_2025-01-02T0000.csv"'
    )
    delivery = only_delivery()
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 1
    assert delivery.recipient == "alice@example.com" and delivery.sent_at is not None
    assert delivery.response == "Accepted by the mail server for alice@example.com"
    assert DownloadLog.objects.get().link == delivery.link


@pytest.mark.django_db
def test_a_transient_500_then_success_is_one_message_in_two_attempts(
    chat, export_request, redis_conn, django_capture_on_commit_callbacks, settings
):
    settings.NOTIFICATIONS_RETRY_BACKOFF = [1]
    chat.replies.append(Reply(500, "internal_error"))
    add_message(export_request, Medium.SLACK, f"{chat.base_url}/hook")
    finish(make_job(export_request), django_capture_on_commit_callbacks)
    before_first_attempt = timezone.now()
    work()
    delivery = only_delivery()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert delivery.last_error == "Slack answered HTTP 500: internal_error"
    # the retry waits the backoff (1 s) after the failed attempt, whatever the machine's speed
    assert delivery.next_attempt_at >= before_first_attempt + timedelta(seconds=1)
    work_until(lambda: only_delivery().status == DeliveryStatus.SENT)
    delivery = only_delivery()
    assert delivery.attempts == 2 and delivery.last_error == ""
    assert delivery.response == "HTTP 200: ok"
    assert len(chat.requests) == 2
    assert chat.requests[1].at - chat.requests[0].at >= 1


@pytest.mark.django_db
def test_a_404_is_permanent_is_not_retried_and_shows_on_the_request_page(
    chat, export_request, redis_conn, django_capture_on_commit_callbacks, settings
):
    settings.NOTIFICATIONS_RETRY_BACKOFF = [0]
    chat.replies.append(Reply(404, "no_service"))
    add_message(export_request, Medium.SLACK, f"{chat.base_url}/hook")
    job = make_job(export_request)
    finish(job, django_capture_on_commit_callbacks)
    work()
    work()
    delivery = only_delivery()
    assert delivery.status == DeliveryStatus.FAILED and delivery.is_permanent_error
    assert delivery.attempts == 1 and len(chat.requests) == 1
    assert delivery.last_error == "Slack answered HTTP 404: no_service"
    assert django_rq.get_queue(queue_name("notifications")).scheduled_job_registry.count == 0
    page = Template("{% load notifications %}{% job_deliveries job %}").render(
        Context({"job": job})
    )
    assert "Permanent error" in page and "Slack answered HTTP 404: no_service" in page
    assert "127.0.0.1" in page and "/hook" not in page  # the webhook URL is a secret


@pytest.mark.django_db
def test_a_429_waits_for_its_retry_after(
    chat, export_request, redis_conn, django_capture_on_commit_callbacks, settings
):
    settings.NOTIFICATIONS_RETRY_BACKOFF = [0]  # without Retry-After it would retry at once
    chat.replies.append(Reply(429, {"retry_after": 0.5}, {"Retry-After": "2"}))
    add_message(export_request, Medium.DISCORD, f"{chat.base_url}/hook")
    finish(make_job(export_request), django_capture_on_commit_callbacks)
    work()
    delivery = only_delivery()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.next_attempt_at - delivery.last_attempt_at >= timedelta(seconds=2)
    # The due time lives in the row only: nothing waits in Redis meanwhile.
    assert delivery.enqueued_at is None
    assert (
        django_rq.get_queue(queue_name("notifications")).scheduled_job_registry.get_job_ids() == []
    )
    work()
    assert len(chat.requests) == 1  # not due yet
    work_until(lambda: only_delivery().status == DeliveryStatus.SENT)
    assert len(chat.requests) == 2
    assert chat.requests[1].at - chat.requests[0].at >= 2


@pytest.mark.django_db
def test_transient_errors_give_up_after_the_last_attempt(
    chat, export_request, redis_conn, django_capture_on_commit_callbacks, settings
):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 3
    settings.NOTIFICATIONS_RETRY_BACKOFF = [0]
    chat.replies.extend([Reply(503, "down")] * 4)
    add_message(export_request, Medium.SLACK, f"{chat.base_url}/hook")
    finish(make_job(export_request), django_capture_on_commit_callbacks)
    work_until(lambda: only_delivery().status == DeliveryStatus.FAILED)
    delivery = only_delivery()
    assert delivery.status == DeliveryStatus.FAILED and not delivery.is_permanent_error
    assert delivery.attempts == 3 and len(chat.requests) == 3
    assert delivery.last_error == "Slack answered HTTP 503: down"


@pytest.mark.django_db
def test_a_job_finished_again_never_sends_a_message_twice(
    chat, export_request, redis_conn, django_capture_on_commit_callbacks
):
    add_message(export_request, Medium.SLACK, f"{chat.base_url}/hook")
    job = make_job(export_request)
    assert finish(job, django_capture_on_commit_callbacks) == 1
    assert finish(job, django_capture_on_commit_callbacks) == 0  # already handed to RQ
    work()
    assert finish(job, django_capture_on_commit_callbacks) == 0  # a retried job, finished again
    work()
    assert len(chat.requests) == 1
    assert Delivery.objects.count() == 1 and only_delivery().attempts == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_send_one_delivery_twice(chat, export_request, redis_conn):
    add_message(export_request, Medium.SLACK, f"{chat.base_url}/hook")
    job = make_job(export_request)
    job_finished(job.pk)
    delivery = only_delivery()
    chat.hold = threading.Event()  # the first worker stays inside its HTTP request
    first = threading.Thread(target=deliver, args=[delivery.pk])
    first.start()
    assert chat.arrived.wait(5)
    assert deliver(delivery.pk) == "not pending"  # the second worker, meanwhile
    chat.hold.set()
    first.join(5)
    work()  # and the RQ job queued by job_finished finds nothing to do
    assert len(chat.requests) == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 1


@pytest.mark.django_db
def test_a_failed_export_notifies_only_its_on_failure_messages(
    chat, export_request, redis_conn, django_capture_on_commit_callbacks
):
    add_message(export_request, Medium.EMAIL, policy=Policy.ON_SUCCESS)
    add_message(export_request, Medium.SLACK, f"{chat.base_url}/s", policy=Policy.ON_FAILURE)
    add_message(export_request, Medium.DISCORD, f"{chat.base_url}/d", policy=Policy.ON_FAILURE)
    job = make_job(export_request, status="failed", error="No such channel: c9")
    assert finish(job, django_capture_on_commit_callbacks) == 2
    work()
    assert mail.outbox == []
    assert sorted(r.path for r in chat.requests) == ["/d", "/s"]
    assert {d.message.medium for d in Delivery.objects.all()} == {Medium.SLACK, Medium.DISCORD}
    slack = next(r.json for r in chat.requests if r.path == "/s")
    assert slack["text"] == "Export “Boiler temps” failed"
    assert "No such channel: c9" in slack["blocks"][2]["text"]["text"]


@pytest.mark.django_db
def test_a_done_export_notifies_only_its_on_success_messages(
    export_request, redis_conn, django_capture_on_commit_callbacks
):
    add_message(export_request, Medium.EMAIL, policy=Policy.ON_SUCCESS)
    add_message(export_request, Medium.EMAIL, "ops@example.org", policy=Policy.ON_FAILURE)
    assert finish(make_job(export_request), django_capture_on_commit_callbacks) == 1
    work()
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]


@pytest.mark.django_db
def test_unfinished_or_missing_jobs_notify_nobody(export_request, redis_conn):
    add_message(export_request, Medium.EMAIL)
    assert job_finished(make_job(export_request, status="inProgress").pk) == 0
    assert job_finished(987654) == 0
    assert Delivery.objects.count() == 0


# --- test send ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_test_send_goes_through_the_real_transport(chat, export_request, client, alice):
    message = add_message(export_request, Medium.SLACK, f"{chat.base_url}/hook", text="{rows}")
    client.force_login(alice)
    response = client.post(reverse("notifications:test-send", args=[message.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("exports:detail", args=[export_request.pk])
    notes = [str(m) for m in get_messages(response.wsgi_request)]
    assert notes == ["The Slack test notification was sent."]
    [payload] = chat.payloads
    assert payload["blocks"][0]["text"]["text"].endswith("\n1,234")
    assert f"/exports/{export_request.pk}/" in payload["blocks"][2]["text"]["text"]
    assert Delivery.objects.count() == 0


@pytest.mark.django_db
def test_test_send_shows_the_real_error(chat, export_request, client, alice):
    chat.replies.append(Reply(404, "no_service"))
    message = add_message(export_request, Medium.DISCORD, f"{chat.base_url}/hook")
    client.force_login(alice)
    response = client.post(reverse("notifications:test-send", args=[message.pk]))
    notes = [str(m) for m in get_messages(response.wsgi_request)]
    assert notes == ["The Discord test notification failed: Discord answered HTTP 404: no_service"]


@pytest.mark.django_db
def test_test_send_is_for_the_owner_and_staff_only(chat, export_request, client, bob, admin_user):
    message = add_message(export_request, Medium.SLACK, f"{chat.base_url}/hook")
    url = reverse("notifications:test-send", args=[message.pk])
    assert client.post(url).status_code == 302  # to the login page
    client.force_login(bob)
    assert client.post(url).status_code == 404  # like every page: no hint the id exists
    assert client.post(reverse("notifications:test-send", args=[987654])).status_code == 404
    client.force_login(admin_user)
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 302
    assert len(chat.requests) == 1


@pytest.mark.django_db
def test_the_test_send_button_posts_with_a_csrf_token(export_request, rf, alice):
    from django.middleware.csrf import get_token

    message = add_message(export_request, Medium.EMAIL)
    request = rf.get("/")
    html = Template("{% load notifications %}{% test_send_button message %}").render(
        Context({"message": message, "csrf_token": get_token(request)})
    )
    assert f'action="{reverse("notifications:test-send", args=[message.pk])}"' in html
    assert 'name="csrfmiddlewaretoken"' in html and 'method="post"' in html
