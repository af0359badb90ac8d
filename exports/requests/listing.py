"""The request list: search, filters and sort from the query string, with each request's last
job and latest file in a bounded number of queries.

Everything the list can show is a GET parameter (``whose``, ``q``, ``type``, ``status``,
``format``, ``paused``, ``sort``, ``page``), so a filtered view can be bookmarked and works without
JavaScript. The search reads request fields, items and the catalog's channel names — never
the message table. The page is found first; only a filter on the last job's status or the
sort by last run annotates every visible request (correlated subqueries, one index seek per
row on the (request, slot) constraint). The shown page's last jobs and latest files (a partial
index holds the jobs with a file) are then loaded in one more query, and each row's texts are
worked out once in ``list_rows`` so the template only places them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils.timezone import template_localtime
from django.utils.translation import get_language

from exports.data.access import shared_with
from exports.models import Channel, ExportItem, ExportJob, ExportRequest, JobStatus
from exports.requests.display import describe_no_data, format_time, metrics_looked_for
from exports.requests.dump import load_children
from exports.requests.vocabulary import Extension, RequestType
from exports.scheduling.words import describe_request_schedule

PAGE_SIZE = 25
# The sort and page are not filters.
FILTER_KEYS = ("whose", "q", "type", "status", "format", "paused")

# Last-job status filter: the stored statuses in words, "no data" (a done job without rows)
# and "never" (no job yet). The values are the platform's, so bookmarks stay stable.
NO_DATA, NEVER = "noData", "never"
STATUS_CHOICES = [
    ("", "Any last status"),
    (JobStatus.NOT_PROCESSED, "Waiting"),
    (JobStatus.IN_PROGRESS, "Running"),
    (JobStatus.DONE, "Done"),
    (NO_DATA, "Done — no data"),
    (JobStatus.FAILED, "Failed"),
    (JobStatus.EXPIRED, "Expired"),
    (JobStatus.SKIPPED, "Skipped"),
    (NEVER, "Never run"),
]
# sort key → (label, ordering). "-key" sorts descending; empty values always come last.
SORTS = {
    "name": ("Name", Lower("name")),
    "next": ("Next run", F("next_run_at")),
    "last": ("Last run", F("last_job_slot")),
    "created": ("Created", F("created_at")),
}
DEFAULT_SORT = "-created"
# Whose requests: all one may see (the default), one's own, or those shared with one.
MINE, SHARED = "mine", "shared"
WHOSE_CHOICES = [("", "All I can see"), (MINE, "Mine"), (SHARED, "Shared with me")]


def _sort_choices() -> list[tuple[str, str]]:
    choices = []
    for key, (label, _) in SORTS.items():
        choices += [(key, f"{label}, ascending"), (f"-{key}", f"{label}, descending")]
    return choices


class FilterSelect(forms.Select):
    """A ``<select>`` rendered once per name, value, attributes, choices and language, then
    reused: the list draws six of them on every view, each option through a template (a few
    milliseconds a view). Only values among the choices are kept, so the cache stays
    as small as the choices."""

    _rendered: dict[tuple, str] = {}

    def render(self, name, value, attrs=None, renderer=None):
        choices = tuple((str(key), str(label)) for key, label in self.choices)
        if value not in (None, *(key for key, _ in choices)):
            return super().render(name, value, attrs, renderer)
        key = (name, value, tuple(sorted((attrs or {}).items())), choices, get_language())
        key += (type(renderer),)
        if key not in self._rendered:
            self._rendered[key] = super().render(name, value, attrs, renderer)
        return self._rendered[key]


class RequestListForm(forms.Form):
    """The list's query string, validated. An empty field means "any"."""

    whose = forms.ChoiceField(
        label="Whose", required=False, widget=FilterSelect, choices=WHOSE_CHOICES
    )

    q = forms.CharField(
        label="Search",
        required=False,
        max_length=200,
        help_text="Name, metric, channel id or channel name",
    )
    type = forms.ChoiceField(
        label="Type",
        required=False,
        widget=FilterSelect,
        choices=[("", "Any type"), *RequestType.choices],
    )
    status = forms.ChoiceField(
        label="Last job", required=False, widget=FilterSelect, choices=STATUS_CHOICES
    )
    format = forms.ChoiceField(
        label="Format",
        required=False,
        widget=FilterSelect,
        choices=[("", "Any format"), *Extension.choices],
    )
    paused = forms.ChoiceField(
        label="Paused",
        required=False,
        widget=FilterSelect,
        choices=[("", "Paused or not"), ("yes", "Paused only"), ("no", "Active only")],
    )
    sort = forms.ChoiceField(
        label="Sort by", required=False, widget=FilterSelect, choices=_sort_choices()
    )

    def clean_q(self) -> str:
        return self.cleaned_data["q"].strip()

    def clean_sort(self) -> str:
        return self.cleaned_data["sort"] or DEFAULT_SORT


LAST_JOB_FIELDS = (
    "last_job_id",
    "last_job_status",
    "last_job_rows",
    "last_job_slot",
    "latest_file_job_id",
)


def with_last_job(requests: QuerySet[ExportRequest], *fields: str) -> QuerySet[ExportRequest]:
    """Annotate each request with its last job (``last_job_id``, ``_status``, ``_rows``,
    ``_slot``) and its latest downloadable job (``latest_file_job_id``), or only ``fields``.

    Each is a correlated subquery computed for every row the query reads: before a sort or a
    filter on them, that is every request one may see, so annotate only what the query needs
    and find the shown page's jobs afterwards (``list_rows``, ``last_statuses``).
    """
    jobs = ExportJob.objects.filter(request=OuterRef("pk")).order_by("-slot", "-id")
    files = jobs.filter(status=JobStatus.DONE).exclude(file="")
    subqueries = {
        "last_job_id": jobs.values("pk"),
        "last_job_status": jobs.values("status"),
        "last_job_rows": jobs.values("row_count"),
        "last_job_slot": jobs.values("slot"),
        "latest_file_job_id": files.values("pk"),
    }
    return requests.annotate(
        **{name: Subquery(subqueries[name][:1]) for name in fields or LAST_JOB_FIELDS}
    )


def last_statuses(requests: list[ExportRequest]) -> dict[int, str]:
    """The status of each listed request's last job (absent: never run), in one query."""
    found = with_last_job(
        ExportRequest.objects.filter(pk__in=[r.pk for r in requests]), "last_job_status"
    ).order_by()
    return dict(found.values_list("pk", "last_job_status"))


def filter_requests(
    requests: QuerySet[ExportRequest], params: dict, user=None
) -> QuerySet[ExportRequest]:
    """Apply the cleaned ``RequestListForm`` data to ``requests`` (not annotated: the last
    job's status or slot is added here when a filter or the sort needs it); ``whose`` needs
    the ``user`` whose list it is."""
    if params.get("whose") == MINE:
        requests = requests.filter(owner=user)
    elif params.get("whose") == SHARED:
        requests = requests.filter(pk__in=shared_with(user).values("pk"))
    q = params.get("q")
    if q:
        channels = Channel.objects.filter(name__icontains=q).values("channel_id")
        items = ExportItem.objects.filter(
            Q(target_value__icontains=q) | Q(channel_id__icontains=q) | Q(channel_id__in=channels)
        ).values("request_id")
        # A subquery, not a join on items: a request matching twice is still one row.
        requests = requests.filter(Q(name__icontains=q) | Q(pk__in=items))
    if params.get("type"):
        requests = requests.filter(type=params["type"])
    if params.get("format"):
        requests = requests.filter(extension=params["format"])
    if params.get("paused"):
        requests = requests.filter(paused=params["paused"] == "yes")
    status = params.get("status")
    if status:
        requests = with_last_job(requests, "last_job_id", "last_job_status", "last_job_rows")
    if status == NEVER:
        requests = requests.filter(last_job_id__isnull=True)
    elif status == NO_DATA:
        requests = requests.filter(last_job_status=JobStatus.DONE, last_job_rows=0)
    elif status == JobStatus.DONE:
        # "Done" means a file with rows; "Done — no data" is its own choice.
        requests = requests.filter(last_job_status=JobStatus.DONE).exclude(last_job_rows=0)
    elif status:
        requests = requests.filter(last_job_status=status)
    return sort_requests(requests, params.get("sort") or DEFAULT_SORT)


def sort_requests(requests: QuerySet[ExportRequest], sort: str) -> QuerySet[ExportRequest]:
    """Order by a ``SORTS`` key (``-`` for descending); empty values last, newest id on ties."""
    _, expression = SORTS[sort.lstrip("-")]
    if sort.lstrip("-") == "last":
        requests = with_last_job(requests, "last_job_slot")
    if sort.startswith("-"):
        return requests.order_by(expression.desc(nulls_last=True), "-id")
    return requests.order_by(expression.asc(nulls_last=True), "-id")


@dataclass
class ListRow:
    """One row of the list: the request, its last job and the job of its latest file, with
    the texts the page shows worked out once here (the template only places them)."""

    export: ExportRequest
    last_job: ExportJob | None
    file_job: ExportJob | None
    no_data: str = ""  # why the last job has no rows, when it has none
    url: str = ""
    metrics: str = ""  # "a, b; c": each item's metric names
    schedule: str = ""
    extension: str = ""
    next_run: tuple[str, str] | None = None  # (ISO 8601, local time)
    last_run: tuple[str, str] | None = None
    file_url: str = ""
    file_time: str = ""


# What a row shows of a job (status words, times, the no-data reason, the download).
ROW_JOB_FIELDS = ("request", "slot", "status", "row_count", "rows_written", "rows_estimated")
ROW_JOB_FIELDS += ("windows", "file")


def _latest_jobs(requests: list[ExportRequest]) -> dict[int, list[ExportJob]]:
    """Each request's last job and latest downloadable job (one query), by request id."""
    page = with_last_job(
        ExportRequest.objects.filter(pk__in=[r.pk for r in requests]),
        "last_job_id",
        "latest_file_job_id",
    ).order_by()
    wanted = Q(pk__in=page.values("last_job_id")) | Q(pk__in=page.values("latest_file_job_id"))
    found: dict[int, list[ExportJob]] = {}
    for job in ExportJob.objects.filter(wanted).only(*ROW_JOB_FIELDS).order_by("-slot", "-id"):
        found.setdefault(job.request_id, []).append(job)
    return found


def list_rows(requests: list[ExportRequest]) -> list[ListRow]:
    """Rows for one page of requests, loading their items and their jobs (one query each)."""
    requests = list(requests)
    load_children(requests, "items")
    jobs = _latest_jobs(requests) if requests else {}
    rows = []
    for export in requests:
        found = jobs.get(export.pk, [])  # newest first: the last job, then (maybe) the file's
        last_job = found[0] if found else None
        file_job = next((job for job in found if job.status == JobStatus.DONE and job.file), None)
        zone = export.timezone
        row = ListRow(
            export,
            last_job,
            file_job,
            url=export.get_absolute_url(),
            metrics="; ".join(", ".join(item.metric_names) for item in export.items.all()),
            schedule=describe_request_schedule(export),
            extension=export.get_extension_display(),
        )
        if export.next_run_at:
            row.next_run = (_iso(export.next_run_at), format_time(export.next_run_at, zone))
        if last_job:
            row.last_run = (_iso(last_job.slot), format_time(last_job.slot, zone))
        if file_job:
            row.file_url = reverse("exports:job-download", args=[export.pk, file_job.pk])
            row.file_time = format_time(file_job.slot, zone)
        if last_job and last_job.has_no_data:
            windows = last_job.windows
            metrics = metrics_looked_for(windows, export.items.all())
            row.no_data = describe_no_data(windows, metrics, zone)
        rows.append(row)
    return rows


def _iso(moment) -> str:
    """``{{ moment|date:'c' }}`` (ISO 8601 in the current time zone), without the formatter."""
    return template_localtime(moment).isoformat()
