"""The django-rq pages under /admin/rq/: each works for staff or says why not; never a 500."""

import django_rq
import pytest
from rq import SimpleWorker

from exports.queue.namespace import queue_name

pytestmark = pytest.mark.django_db


def page_urls(worker_key: str, job_id: str) -> list[str]:
    urls = ["/admin/rq/", "/admin/rq/stats.json/"]
    for queue in range(3):
        base = f"/admin/rq/queues/{queue}/"
        urls += [base + suffix for suffix in ("", "details/", "finished/", "failed/")]
        urls += [base + suffix for suffix in ("scheduled/", "started/", "deferred/")]
        urls += [f"/admin/rq/workers/{queue}/", f"/admin/rq/workers/{queue}/{worker_key}/"]
    urls.append(f"/admin/rq/queues/0/{job_id}/")
    return urls


@pytest.fixture
def staff_client(client, admin_user):
    client.force_login(admin_user)
    client.raise_request_exception = False  # a crash must show up as the 500 people get
    return client


@pytest.fixture
def worker_and_job(redis_conn, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # django-rq enqueues on commit
        django_rq.get_queue(queue_name("default")).enqueue(
            "builtins.len", "abc", job_id="rq-admin-test"
        )
    worker = SimpleWorker([django_rq.get_queue(queue_name("default"))], connection=redis_conn)
    worker.register_birth()
    yield worker.key, "rq-admin-test"
    worker.register_death()


def test_every_rq_page_works_for_staff(staff_client, worker_and_job):
    for url in page_urls(*worker_and_job):
        response = staff_client.get(url)
        assert response.status_code == 200, url


def test_the_queues_are_listed_under_their_namespaced_names(staff_client, worker_and_job):
    dashboard = staff_client.get("/admin/rq/").text
    for alias in ("default", "exports", "notifications"):
        assert f"test:{alias}" in dashboard
    # django-rq orders queues by name: index 0 is test:default, where the job waits.
    default_queue = staff_client.get("/admin/rq/queues/0/")
    assert "test:default" in default_queue.text and "rq-admin-test" in default_queue.text
    assert "rq-admin-test" not in staff_client.get("/admin/rq/queues/1/").text


def test_the_rq_scheduler_page_explains_that_schedules_live_in_the_database(staff_client):
    for index in (0, 1, 2, 7):
        response = staff_client.get(f"/admin/rq/schedulers/{index}/")
        assert response.status_code == 404
        assert "does not run <strong>rq-scheduler</strong>" in response.text
        assert "/admin/exports/exportrequest/" in response.text


@pytest.mark.parametrize(
    "url",
    [
        "/admin/rq/queues/9/",
        "/admin/rq/queues/9/failed/",
        "/admin/rq/workers/9/",
        "/admin/rq/workers/0/not-a-worker/",
        "/admin/rq/workers/0/rq:worker:gone/",
        "/admin/rq/queues/0/no-such-job/",
        "/admin/rq/cron-schedulers/9/nobody/",
    ],
)
def test_something_that_does_not_exist_is_a_404(staff_client, redis_conn, url):
    assert staff_client.get(url).status_code == 404


def test_people_who_are_not_staff_are_sent_to_log_in(client, alice, redis_conn):
    client.force_login(alice)
    for url in ("/admin/rq/", "/admin/rq/schedulers/0/", "/admin/rq/queues/0/"):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]
