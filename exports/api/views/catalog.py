"""What the data holds and what a request would export: the series catalog and the preview."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from exports.api.errors import documented
from exports.api.paging import page_of, read_query
from exports.api.request_shapes import ClosedBodySchema
from exports.api.serializers import (
    ExportRequestSerializer,
    PreviewSerializer,
    SeriesPageSerializer,
    SeriesQuerySerializer,
    SeriesSerializer,
)
from exports.data import catalog
from exports.data.access import read_scope
from exports.editor.preview import preview_request


class SeriesView(APIView):
    @extend_schema(
        operation_id="series_list",
        summary="List the series catalog",
        description="Every (channel, subtopic, publisher, metric) seen in stored messages that "
        "the caller may read (through a read grant to them or their team; staff read all), "
        "with unit, count and first/last time; narrowed by channel, subtopic, publisher and q "
        "(matches the metric, an id or a name).",
        parameters=[SeriesQuerySerializer],
        responses={200: SeriesPageSerializer, **documented(400, 401, 429)},
    )
    def get(self, request: Request) -> Response:
        query = read_query(SeriesQuerySerializer, request)
        found, page = page_of(
            catalog.series(
                scope=read_scope(request.user),
                channel=query["channel"],
                subtopic=query.get("subtopic"),
                publisher=query["publisher"],
                q=query["q"],
            ),
            query,
        )
        context = {
            "channel_names": catalog.channel_names({row.channel for row in found}),
            "publisher_names": catalog.publisher_names({row.publisher for row in found}),
        }
        return Response(
            {"results": SeriesSerializer(found, many=True, context=context).data, **page}
        )


class PreviewView(APIView):
    schema = ClosedBodySchema()

    @extend_schema(
        operation_id="exports_preview",
        summary="Preview an export request without saving it",
        description="Per item: the first rows as the file will hold them and the estimated "
        "row count, for the slot the next run would use. Validated like creation.",
        request=ExportRequestSerializer,
        responses={200: PreviewSerializer, **documented(400, 401, 413, 415, 429)},
    )
    def post(self, request: Request) -> Response:
        return Response(preview_request(request.data, request.user).as_json())
