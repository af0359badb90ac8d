"""The request list: search, filters and sort from the query string, with each request's last
job and latest file in a bounded number of queries.

Everything the list can show is a GET parameter (``whose``, ``q``, ``type``, ``status``,
``format``, ``paused``, ``sort``, ``page``), so a filtered view can be bookmarked and works without
JavaScript. The search reads request fields, items and the catalog's channel names — never
the message table. The last job is found with correlated subqueries (one index seek per row
on the (request, slot) constraint), then the shown jobs are loaded in one more query.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Lower

from exports.data.access import shared_with
from exports.models import Channel, ExportItem, ExportJob, ExportRequest, JobStatus
from exports.requests.display import describe_no_data, metrics_looked_for
from exports.requests.vocabulary import Extension, RequestType

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


class RequestListForm(forms.Form):
    """The list's query string, validated. An empty field means "any"."""

    whose = forms.ChoiceField(label="Whose", required=False, choices=WHOSE_CHOICES)

    q = forms.CharField(
        label="Search",
        required=False,
        max_length=200,
        help_text="Name, metric, channel id or channel name",
    )
    type = forms.ChoiceField(
        label="Type", required=False, choices=[("", "Any type"), *RequestType.choices]
    )
    status = forms.ChoiceField(label="Last job", required=False, choices=STATUS_CHOICES)
    format = forms.ChoiceField(
        label="Format", required=False, choices=[("", "Any format"), *Extension.choices]
    )
    paused = forms.ChoiceField(
        label="Paused",
        required=False,
        choices=[("", "Paused or not"), ("yes", "Paused only"), ("no", "Active only")],
    )
    sort = forms.ChoiceField(label="Sort by", required=False, choices=_sort_choices())

    def clean_q(self) -> str:
        return self.cleaned_data["q"].strip()

    def clean_sort(self) -> str:
        return self.cleaned_data["sort"] or DEFAULT_SORT


def with_last_job(requests: QuerySet[ExportRequest]) -> QuerySet[ExportRequest]:
    """Annotate each request with its last job (``last_job_id``, ``_status``, ``_rows``,
    ``_slot``) and its latest downloadable job (``latest_file_job_id``)."""
    jobs = ExportJob.objects.filter(request=OuterRef("pk")).order_by("-slot", "-id")
    files = jobs.filter(status=JobStatus.DONE).exclude(file="")
    return requests.annotate(
        last_job_id=Subquery(jobs.values("pk")[:1]),
        last_job_status=Subquery(jobs.values("status")[:1]),
        last_job_rows=Subquery(jobs.values("row_count")[:1]),
        last_job_slot=Subquery(jobs.values("slot")[:1]),
        latest_file_job_id=Subquery(files.values("pk")[:1]),
    )


def filter_requests(
    requests: QuerySet[ExportRequest], params: dict, user=None
) -> QuerySet[ExportRequest]:
    """Apply the cleaned ``RequestListForm`` data to ``requests`` (already annotated);
    ``whose`` needs the ``user`` whose list it is."""
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
    if sort.startswith("-"):
        return requests.order_by(expression.desc(nulls_last=True), "-id")
    return requests.order_by(expression.asc(nulls_last=True), "-id")


@dataclass
class ListRow:
    """One row of the list: the request, its last job and the job of its latest file."""

    export: ExportRequest
    last_job: ExportJob | None
    file_job: ExportJob | None
    no_data: str = ""  # why the last job has no rows, when it has none


def list_rows(requests: list[ExportRequest]) -> list[ListRow]:
    """Rows for one page of annotated requests (items prefetched), loading their jobs in one
    query."""
    wanted = {r.last_job_id for r in requests} | {r.latest_file_job_id for r in requests}
    wanted.discard(None)
    jobs = ExportJob.objects.in_bulk(wanted) if wanted else {}
    rows = []
    for export in requests:
        row = ListRow(export, jobs.get(export.last_job_id), jobs.get(export.latest_file_job_id))
        if row.last_job and row.last_job.has_no_data:
            windows = row.last_job.windows
            metrics = metrics_looked_for(windows, export.items.all())
            row.no_data = describe_no_data(windows, metrics, export.timezone)
        rows.append(row)
    return rows
