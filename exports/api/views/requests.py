"""Export requests over HTTP: list, create, read, replace, patch, delete, run, pause, resume.

The same functions as the pages: ``parse_request``/``save_spec``/``dump_request`` for the JSON,
``exports.data.access`` for who sees what (a request one may not see is a 404; one shared with
the caller as viewer is a 403 for every change, and only its owner and staff delete it or change
its ``shares``), ``start_one_time`` and
``run_now`` for queuing (429 at the cap), ``set_paused``. Changes run in one transaction acting
as the caller, so each emits the pages' IAM event with the token's user as actor.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from exports.api.errors import documented
from exports.api.paging import page_of, read_query
from exports.api.parsers import BoundedJSONParser, MergePatchParser
from exports.api.problems import Problem
from exports.api.request_shapes import ClosedBodySchema, ExportRequestPatchSerializer
from exports.api.serializers import (
    SORT_KEYS,
    ExportListQuerySerializer,
    ExportPageSerializer,
    ExportRequestSerializer,
    JobSerializer,
    StoredExportRequestSerializer,
)
from exports.data.access import (
    RequestRefused,
    get_request_for_user,
    shared_with,
    visible_requests,
)
from exports.iam import acting_as
from exports.models import ExportRequest
from exports.queue.ondemand import run_now, set_paused, start_one_time
from exports.requests.dump import dump_request, load_children
from exports.requests.listing import last_statuses, with_last_job
from exports.requests.schema import parse_request
from exports.requests.sharing import same_shares
from exports.requests.spec import save_spec

PREFETCH = ("items", "columns", "messages", "shares__user", "shares__group")

EXAMPLE = {
    "name": "Greenhouse temperatures",
    "type": "oneTime",
    "format": {"extension": "csv", "timezone": "Europe/Rome"},
    "items": [
        {
            "params": {
                "target": {"value": "temperature"},
                "channelId": "6b1f0f3a-5c2e-4d8e-9a57-0c1d2e3f4a5b",
                "subtopic": "events.data",
                "range": "yesterday",
            }
        }
    ],
}


def _stored(export: ExportRequest) -> dict[str, Any]:
    """The request as ``dumpexport`` prints it, read back with its children."""
    fresh = (
        ExportRequest.objects.select_related("owner").prefetch_related(*PREFETCH).get(pk=export.pk)
    )
    return dump_request(fresh)


def get_for_caller(request: Request, pk: int, *, edit=False, manage=False) -> ExportRequest:
    """The request as ``get_request_for_user`` finds it; a right the caller lacks on a request
    they see is a 403 (the pages answer 404)."""
    try:
        return get_request_for_user(request.user, pk, edit=edit, manage=manage)
    except RequestRefused as refused:
        raise Problem(403, str(refused)) from None


def _replace(request: Request, export: ExportRequest, data: Any) -> Response:
    """Validate ``data`` and make it the request's whole content, as the editor's save does.

    The channels are checked against the owner's read access, whoever saves: the export runs
    as its owner. ``shares`` may differ from the stored ones only for the owner and staff.
    """
    spec = parse_request(data, owner=export.owner)
    changes_shares = spec.shares is not None and not same_shares(export, spec.shares)
    if changes_shares and not export.access.can_manage:
        raise Problem(403, "Only the owner (or staff) may change whom it is shared with.", "shares")
    with acting_as(request.user), transaction.atomic():
        save_spec(spec, export)
        start_one_time(export)  # a one-time request with no job yet (e.g. un-paused) runs now
    return Response(_stored(export))


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON Merge Patch: objects merge key by key, ``null`` removes, all else replaces."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


class ExportListView(APIView):
    schema = ClosedBodySchema()

    @extend_schema(
        operation_id="exports_list",
        summary="List export requests",
        description="The requests you may see — your own and those shared with you or your "
        "teams (every request for staff) — filtered by the status of their "
        "last job and their type, sorted and paginated.",
        parameters=[ExportListQuerySerializer],
        responses={200: ExportPageSerializer, **documented(400, 401, 429)},
    )
    def get(self, request: Request) -> Response:
        query = read_query(ExportListQuerySerializer, request)
        requests = visible_requests(request.user)
        if query.get("status"):  # as the pages' list does
            requests = with_last_job(requests, "last_job_status")
            requests = requests.filter(last_job_status__in=query["status"])
        if query.get("type"):
            requests = requests.filter(type=query["type"])
        if query.get("whose") == "mine":
            requests = requests.filter(owner=request.user)
        elif query.get("whose") == "shared":
            requests = requests.filter(pk__in=shared_with(request.user).values("pk"))
        sort = query["sort"]
        field = SORT_KEYS[sort.lstrip("-")]
        requests = requests.order_by(f"-{field}" if sort.startswith("-") else field, "-id")
        found, page = page_of(requests.select_related("owner"), query)
        # The page's children and last jobs only, once it is known (not for every request).
        load_children(found)
        statuses = last_statuses(found)
        results = [{**dump_request(e), "status": statuses.get(e.pk)} for e in found]
        return Response({"results": results, **page})

    @extend_schema(
        operation_id="exports_create",
        summary="Create an export request",
        description="Validated like every other interface; a one-time request is queued at "
        "once (429 when you already have the maximum of waiting exports; nothing is saved).",
        request=ExportRequestSerializer,
        responses={201: StoredExportRequestSerializer, **documented(400, 401, 413, 415, 429)},
        examples=[OpenApiExample("A one-time CSV of yesterday", value=EXAMPLE, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        spec = parse_request(request.data, owner=request.user)
        with acting_as(request.user), transaction.atomic():
            export = save_spec(spec)
            start_one_time(export)
        return Response(_stored(export), status=status.HTTP_201_CREATED)


class ExportDetailView(APIView):
    parser_classes = [BoundedJSONParser, MergePatchParser]
    schema = ClosedBodySchema()

    @extend_schema(
        operation_id="exports_retrieve",
        summary="Read an export request",
        responses={200: StoredExportRequestSerializer, **documented(401, 404, 429)},
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(_stored(get_for_caller(request, pk)))

    @extend_schema(
        operation_id="exports_replace",
        summary="Replace an export request",
        description="The body is a whole request, validated as on creation; the owner stays. "
        "Owner, editors and staff (403 for a viewer).",
        request=ExportRequestSerializer,
        responses={
            200: StoredExportRequestSerializer,
            **documented(400, 401, 403, 404, 413, 415, 429),
        },
    )
    def put(self, request: Request, pk: int) -> Response:
        export = get_for_caller(request, pk, edit=True)
        return _replace(request, export, request.data)

    @extend_schema(
        operation_id="exports_update",
        summary="Change part of an export request",
        description="A JSON Merge Patch (RFC 7396) over the stored request: objects merge, "
        "null removes a key, arrays (items, columns, messages, shares) are replaced whole. "
        "The result is validated as a whole request; unknown fields are refused (400).",
        request=ExportRequestPatchSerializer,
        responses={
            200: StoredExportRequestSerializer,
            **documented(400, 401, 403, 404, 413, 415, 429),
        },
    )
    def patch(self, request: Request, pk: int) -> Response:
        export = get_for_caller(request, pk, edit=True)
        if not isinstance(request.data, dict):
            raise Problem(400, "A merge patch must be a JSON object.")
        return _replace(request, export, merge_patch(dump_request(export), request.data))

    @extend_schema(
        operation_id="exports_destroy",
        summary="Delete an export request",
        description="Deletes the request with its jobs and their files' records (owner and "
        "staff only).",
        responses={204: None, **documented(401, 403, 404, 429)},
    )
    def delete(self, request: Request, pk: int) -> Response:
        export = get_for_caller(request, pk, manage=True)
        with acting_as(request.user), transaction.atomic():
            export.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class ExportRunView(APIView):
    @extend_schema(
        operation_id="exports_run",
        summary="Run an export request now",
        description="Creates a job for the slot 'now' whatever the schedule (paused requests "
        "too); a repeat within the same second returns the same job. A recurring request's job "
        "exports its most recent scheduled period (what the schedule wrote); with "
        "`?window=now`, the last whole periodicity up to now.",
        request=None,
        responses={202: JobSerializer, **documented(401, 403, 404, 429)},
    )
    def post(self, request: Request, pk: int) -> Response:
        export = get_for_caller(request, pk, edit=True)
        job = run_now(export, up_to_now=request.query_params.get("window") == "now")
        job.request = export
        return Response(
            JobSerializer(job, context={"request": request}).data, status=status.HTTP_202_ACCEPTED
        )


def _set_paused(request: Request, pk: int, paused: bool) -> Response:
    export = get_for_caller(request, pk, edit=True)
    with acting_as(request.user):
        set_paused(export, paused)
    return Response(_stored(export))


class ExportPauseView(APIView):
    @extend_schema(
        operation_id="exports_pause",
        summary="Pause an export request",
        description="No scheduled run happens until it is resumed.",
        request=None,
        responses={200: StoredExportRequestSerializer, **documented(401, 403, 404, 429)},
    )
    def post(self, request: Request, pk: int) -> Response:
        return _set_paused(request, pk, True)


class ExportResumeView(APIView):
    @extend_schema(
        operation_id="exports_resume",
        summary="Resume an export request",
        description="A one-time request created paused is queued now (429 at the cap).",
        request=None,
        responses={200: StoredExportRequestSerializer, **documented(401, 403, 404, 429)},
    )
    def post(self, request: Request, pk: int) -> Response:
        return _set_paused(request, pk, False)
