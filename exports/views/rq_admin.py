"""The django-rq admin pages (``/admin/rq/``), guarded so that every page works or says why not.

django-rq links a "scheduler" page that needs the separate rq-scheduler package, which this
project does not use (schedules live in the database, see ``exports.scheduling``): that page
explains this instead of failing. A queue index, worker or scheduler that does not exist is a
404, not an exception inside django-rq.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.admin import site as admin_site
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django_rq import views as rq_views
from django_rq.queues import get_queue_by_index, get_queues_list
from rq.worker import Worker


@staff_member_required
def no_rq_scheduler(request: HttpRequest, scheduler_index: int) -> HttpResponse:
    """Why there is no rq-scheduler page here (HTTP 404, a page people can read)."""
    context = {**admin_site.each_context(request), "title": "No RQ scheduler here"}
    return render(request, "admin/rq_no_scheduler.html", context, status=404)


def guarded(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Wrap one django-rq admin view (``get_admin_urlpatterns(view_wrapper=guarded)``)."""
    if view is rq_views.scheduler_jobs:
        return no_rq_scheduler

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if "queue_index" in kwargs:
            index = kwargs["queue_index"]
            if not 0 <= index < len(get_queues_list()):
                raise Http404("No such queue.")
            if "key" in kwargs and not _worker_exists(kwargs["key"], index):
                raise Http404("No such worker.")
        return view(request, *args, **kwargs)

    return wrapper


def _worker_exists(key: str, queue_index: int) -> bool:
    try:
        connection = get_queue_by_index(queue_index).connection
        return Worker.find_by_key(key, connection=connection) is not None
    except ValueError:  # not shaped like a worker key at all
        return False
