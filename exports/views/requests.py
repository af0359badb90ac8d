"""Pages for export requests: list, detail, create, edit, delete, pause, resume, run now.

Every view finds its request through ``exports.data.access``; every change goes through
``RequestEditor`` or one ``save()``, inside one transaction, so one IAM event results.
"""

from __future__ import annotations

import zoneinfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import prefetch_related_objects
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone as dj_timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from exports.data.access import get_request_for_user, visible_requests
from exports.data.catalog import channel_names, publisher_names
from exports.editor.editor import RequestEditor
from exports.editor.preview import preview_spec
from exports.editor.windows import decimation_words, window_words
from exports.models import ExportRequest
from exports.models.catalog import display_name
from exports.queue.ondemand import (
    QueueFull,
    run_now,
    run_now_windows,
    set_paused,
    start_one_time,
)
from exports.requests.listing import (
    DEFAULT_SORT,
    FILTER_KEYS,
    PAGE_SIZE,
    RequestListForm,
    filter_requests,
    list_rows,
)
from exports.requests.recipients import describe_target
from exports.requests.vocabulary import DEFAULT_COLUMNS
from exports.scheduling.slots import upcoming_slots
from exports.scheduling.windows import describe_window, window_from_json
from exports.scheduling.words import duration_words
from exports.views.jobs import jobs_context
from exports.views.shares import shares_context


@login_required
@require_safe
def request_list(request: HttpRequest) -> HttpResponse:
    """The user's requests (all of them for staff), searched, filtered and sorted by the query
    string, 25 a page, each with its schedule in words, last job and latest file.

    An invalid filter value is a 400 with the form's errors, never a silently wider list.
    """
    query = request.GET.copy()
    query.setdefault("sort", DEFAULT_SORT)  # so the form shows the order the list is in
    form = RequestListForm(query)
    valid = form.is_valid()
    requests = visible_requests(request.user).select_related("owner")
    requests = (
        filter_requests(requests, form.cleaned_data, user=request.user)
        if valid
        else requests.none()
    )
    page = Paginator(requests, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list_rows(page.object_list)
    return render(
        request,
        "exports/request_list.html",
        {
            "form": form,
            "page": page,
            "rows": rows,
            # Whenever someone else's request is listed (staff; shared with the user).
            "show_owner": request.user.is_staff
            or any(row.export.owner_id != request.user.pk for row in rows),
            "is_filtered": any(request.GET.get(key) for key in FILTER_KEYS),
            "sort": form.cleaned_data["sort"] if valid else DEFAULT_SORT,
        },
        status=200 if valid else 400,
    )


@login_required
@require_safe
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One request: its settings, items, columns, notifications, shares and (paginated) jobs.

    The controls shown follow the user's role: viewers get none, editors all but delete and
    sharing, the owner and staff all.
    """
    export = get_request_for_user(request.user, pk)
    prefetch_related_objects([export], "items", "columns", "messages")
    columns = [(c.column_id, c.label) for c in export.columns.all()]
    return render(
        request,
        "exports/request_detail.html",
        {
            **jobs_context(request, export),
            "item_rows": _item_rows(export),
            "columns": columns or [(column_id, column_id) for column_id in DEFAULT_COLUMNS],
            "default_columns": not columns,
            # Webhook URLs are credentials: the page names only their host.
            "notification_rows": [
                (message, describe_target(message.medium, message.target))
                for message in export.messages.all()
            ],
            "upcoming": upcoming_slots(export, n=5),
            "run_now_windows": _run_now_words(export),
            **shares_context(export),
        },
    )


def _run_now_words(export: ExportRequest) -> dict[str, str]:
    """What "Run now" would export, per choice, in words (the first item's window)."""
    now = dj_timezone.now().replace(microsecond=0)
    tz = zoneinfo.ZoneInfo(export.timezone)
    words = {}
    try:
        for key, up_to_now in (("latest", False), ("now", True)):
            windows = run_now_windows(export, now, up_to_now=up_to_now)
            if windows:
                words[key] = describe_window(window_from_json(windows[0]), tz)
    except (ValueError, ValidationError, OverflowError):
        return {}
    return words


def _item_rows(export: ExportRequest) -> list[tuple]:
    """Each item with its channel and publisher as "name (short id)" (two catalog reads), its
    window and decimation in words."""
    items = list(export.items.all())
    channels = channel_names(item.channel_id for item in items)
    publishers = publisher_names(item.publisher for item in items if item.publisher)
    return [
        (
            item,
            display_name(channels.get(item.channel_id, ""), item.channel_id),
            display_name(publishers.get(item.publisher, ""), item.publisher)
            if item.publisher
            else "",
            window_words(item.period, item.calendar_range, export.is_recurring),
            decimation_words(item.ds, item.dsf),
        )
        for item in items
    ]


def _queue_full(request: HttpRequest, export: ExportRequest, exc: QueueFull) -> HttpResponse:
    context = {
        "title": exc.message,
        "reason": exc.detail,
        "export": export,
        "back_url": export.get_absolute_url(),
    }
    return render(request, "exports/problem.html", context, status=429)


def _edit_page(request: HttpRequest, editor: RequestEditor, done: str) -> HttpResponse:
    """Save a valid posted editor and go to its request, or (re-)render the form.

    Invalid input comes back with its errors and status 422; a full queue with 429.
    "Preview" and metrics the catalog never saw (until confirmed) re-render the page with
    the preview or the warning, status 200. Nothing is saved in any of these cases.
    """
    status, refusal, preview, unknown = 200, "", None, []
    if request.method == "POST":
        if not editor.is_valid():
            status = 422
        elif "preview" in request.POST:
            preview = preview_spec(editor.spec())
        elif not (unknown := _unconfirmed(request, editor)):
            try:
                with transaction.atomic():
                    export = editor.save()
                    start_one_time(export)
            except QueueFull as exc:
                status, refusal = 429, exc.detail
            else:
                messages.success(request, f"Export “{export.name}” {done}.")
                return redirect(export)
    return render(
        request,
        "exports/request_form.html",
        {
            "editor": editor,
            "export": None if editor.is_new else editor.instance,
            "invalid": status != 200,
            "refusal": refusal,
            "preview": preview,
            "unknown": unknown,
        },
        status=status,
    )


def _unconfirmed(request: HttpRequest, editor: RequestEditor) -> list:
    """Metrics with no data yet that the user has not confirmed (for exactly these names)."""
    confirmed = set(request.POST.getlist("confirm_unknown"))
    unknown = editor.unknown_metrics()
    return [] if {group.confirmation for group in unknown} <= confirmed else unknown


@login_required
@require_safe
def schedule_words(request: HttpRequest) -> HttpResponse:
    """The schedule the editor's fields describe, in words: the page's live hint.

    Takes the editor's own field names (``type``, ``schedule``, ``every``, ``at_time``, ...,
    ``periodicity``, ``period_start``, ``timezone``); ``{"words": ""}`` when one-time or
    incomplete. Read-only: nothing is saved. Given ``duration`` instead (an item's custom
    window, ISO 8601), the duration in words: ``{"words": "1 day and 6 hours"}``.
    """
    if "duration" in request.GET:
        return JsonResponse({"words": duration_words(request.GET["duration"].strip())})
    words, periodicity = RequestEditor(request.GET, owner=request.user).schedule_words()
    return JsonResponse({"words": words, "periodicity": periodicity})


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def request_create(request: HttpRequest) -> HttpResponse:
    """A new request, owned by the user; a one-time request is queued to run at once."""
    data = request.POST if request.method == "POST" else None
    return _edit_page(request, RequestEditor(data, owner=request.user), "created")


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def request_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit a request and all of its children on one page (owner, editors, staff).

    The channels offered and allowed are still the owner's: the export runs as its owner.
    """
    export = get_request_for_user(request.user, pk, edit=True)
    data = request.POST if request.method == "POST" else None
    return _edit_page(request, RequestEditor(data, instance=export), "saved")


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def request_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation; POST deletes the request with its children and jobs (owner
    and staff only)."""
    export = get_request_for_user(request.user, pk, manage=True)
    if request.method != "POST":
        return render(request, "exports/request_confirm_delete.html", {"export": export})
    with transaction.atomic():
        export.delete()
    messages.success(request, f"Export “{export.name}” deleted.")
    return redirect("exports:list")


def _set_paused(request: HttpRequest, pk: int, paused: bool) -> HttpResponse:
    export = get_request_for_user(request.user, pk, edit=True)
    try:
        set_paused(export, paused)
    except QueueFull as exc:
        return _queue_full(request, export, exc)
    messages.success(request, f"Export “{export.name}” {'paused' if paused else 'resumed'}.")
    return redirect(export)


@login_required
@require_POST
def request_pause(request: HttpRequest, pk: int) -> HttpResponse:
    """Stop running a request until it is resumed."""
    return _set_paused(request, pk, True)


@login_required
@require_POST
def request_resume(request: HttpRequest, pk: int) -> HttpResponse:
    """Let a paused request run again."""
    return _set_paused(request, pk, False)


@login_required
@require_POST
def request_run(request: HttpRequest, pk: int) -> HttpResponse:
    """Run a request now, whatever its schedule (paused ones too: it is an explicit action)."""
    export = get_request_for_user(request.user, pk, edit=True)
    try:
        job = run_now(export, up_to_now=request.POST.get("window") == "now")
    except QueueFull as exc:
        return _queue_full(request, export, exc)
    except ValidationError as exc:  # a schedule stored before today's rules (say P2000Y)
        messages.error(request, f"Export “{export.name}” cannot run: {' '.join(exc.messages)}")
        return redirect(export)
    messages.success(request, f"Export “{export.name}” queued; its job is listed below.")
    return redirect(f"{export.get_absolute_url()}#job-{job.pk}")
