"""Jobs over HTTP: a request's jobs, one job, and the file of a job or of a request.

Files are served by ``exports.files.downloads`` as on the pages (same name and headers, streamed);
an expired or vanished file is a 410, a job without a file a 404.
"""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from exports.api.errors import documented
from exports.api.paging import page_of, read_query
from exports.api.problems import Problem
from exports.api.serializers import JobPageSerializer, JobSerializer, PageQuerySerializer
from exports.data.access import get_any_job_for_user, get_request_for_user
from exports.files.downloads import DownloadRefused, serve_job_file
from exports.iam import record_download
from exports.models import ExportJob, JobStatus
from notifications.queries import with_deliveries

FILE_RESPONSES = {
    (200, "*/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The file, as an attachment."),
    **documented(401, 404, 410, 429, 503),
}


def serve_file(request: Request, job: ExportJob) -> HttpResponse:
    """The job's file, or a ``Problem``: 410 when expired or gone, 404 when it has none.

    503 when the file store cannot be reached (the file may well be there).

    A served GET is recorded as an IAM download event, as the pages record theirs.
    """
    try:
        response = serve_job_file(job)
    except DownloadRefused as refused:
        raise Problem(refused.status, refused.reason, retry_after=refused.retry_after) from None
    if request.method == "GET":  # a HEAD downloads nothing
        record_download(job, request.user, via="api")
    return response


class ExportJobsView(APIView):
    @extend_schema(
        operation_id="exports_jobs",
        summary="List the jobs of an export request",
        description="Newest slot first, paginated.",
        parameters=[PageQuerySerializer],
        responses={200: JobPageSerializer, **documented(400, 401, 404, 429)},
    )
    def get(self, request: Request, pk: int) -> Response:
        query = read_query(PageQuerySerializer, request)
        export = get_request_for_user(request.user, pk)
        jobs, page = page_of(with_deliveries(export.jobs.all()), query)
        for job in jobs:
            job.request = export
        data = JobSerializer(jobs, many=True, context={"request": request}).data
        return Response({"results": data, **page})


class JobDetailView(APIView):
    @extend_schema(
        operation_id="jobs_retrieve",
        summary="Read a job",
        description="Status, attempts, rows written, progress, window, error, size, deliveries.",
        responses={200: JobSerializer, **documented(401, 404, 429)},
    )
    def get(self, request: Request, pk: int) -> Response:
        job = get_any_job_for_user(request.user, pk)
        job = with_deliveries(ExportJob.objects.select_related("request")).get(pk=job.pk)
        return Response(JobSerializer(job, context={"request": request}).data)


class JobDownloadView(APIView):
    @extend_schema(
        operation_id="jobs_download",
        summary="Download a job's file",
        responses=FILE_RESPONSES,
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        return serve_file(request, get_any_job_for_user(request.user, pk))


class ExportDownloadView(APIView):
    @extend_schema(
        operation_id="exports_download",
        summary="Download the latest file of an export request",
        description="The file of its latest finished job (410 when that one has expired).",
        responses=FILE_RESPONSES,
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        export = get_request_for_user(request.user, pk)
        job = export.jobs.filter(status__in=[JobStatus.DONE, JobStatus.EXPIRED]).first()
        if job is None:
            raise Problem(404, "This export has no finished file yet.")
        job.request = export
        return serve_file(request, job)
