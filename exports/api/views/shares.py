"""Whom a request is shared with, over HTTP: list (whoever sees the request), share and unshare
(owner and staff). The same shares as the request JSON's ``shares`` and the request page."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from exports.api.errors import documented
from exports.api.problems import Problem
from exports.api.serializers import ShareSerializer, StoredShareSerializer
from exports.api.views.requests import get_for_caller
from exports.iam import acting_as
from exports.models import RequestShare
from exports.requests.sharing import parse_shares, share_with, shares_of


def _share(share: RequestShare) -> dict[str, Any]:
    who = {"group": share.group.name} if share.group_id else {"user": share.user.get_username()}
    return {"id": share.pk, **who, "role": share.role, "createdAt": share.created_at}


class ExportSharesView(APIView):
    @extend_schema(
        operation_id="exports_shares_list",
        summary="List whom an export request is shared with",
        description="Teams first, by name, then users.",
        responses={200: StoredShareSerializer(many=True), **documented(401, 404, 429)},
    )
    def get(self, request: Request, pk: int) -> Response:
        export = get_for_caller(request, pk)
        return Response([_share(share) for share in shares_of(export)])

    @extend_schema(
        operation_id="exports_shares_create",
        summary="Share an export request with a user or a team",
        description="Owner and staff only. Sharing again with the same user or team changes "
        "its role (200); a new share answers 201.",
        request=ShareSerializer,
        responses={
            200: StoredShareSerializer,
            201: StoredShareSerializer,
            **documented(400, 401, 403, 404, 429),
        },
        examples=[
            OpenApiExample("A team as editors", value={"group": "cold-chain", "role": "editor"})
        ],
    )
    def post(self, request: Request, pk: int) -> Response:
        export = get_for_caller(request, pk, manage=True)
        if not isinstance(request.data, dict):
            raise Problem(400, "The body is one {user or group, role} object.")
        shares, problems = parse_shares([request.data], export.owner)
        if problems:  # paths relative to the body: "user", not "shares[0].user"
            path, message = problems[0]
            raise Problem(400, message, path.removeprefix("shares[0]").lstrip("."))
        [parsed] = shares
        existed = export.shares.filter(user=parsed.user, group=parsed.group).exists()
        with acting_as(request.user), transaction.atomic():
            share = share_with(export, user=parsed.user, group=parsed.group, role=parsed.role)
        code = status.HTTP_200_OK if existed else status.HTTP_201_CREATED
        return Response(_share(share), status=code)


class ExportShareView(APIView):
    @extend_schema(
        operation_id="exports_shares_destroy",
        summary="Stop sharing an export request with one user or team",
        description="Owner and staff only.",
        responses={204: None, **documented(401, 403, 404, 429)},
    )
    def delete(self, request: Request, pk: int, share_pk: int) -> Response:
        export = get_for_caller(request, pk, manage=True)
        share = export.shares.filter(pk=share_pk).first()
        if share is None:
            raise Problem(404, "No such share of this export.")
        with acting_as(request.user), transaction.atomic():
            share.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
