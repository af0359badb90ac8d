"""Query parameters and pages: read with a serializer (400 names the parameter), sliced once."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework.request import Request
from rest_framework.serializers import Serializer


def read_query(serializer_class: type[Serializer], request: Request) -> dict[str, Any]:
    """The validated query parameters; raises DRF's ``ValidationError`` (a 400) otherwise."""
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def page_of(items: QuerySet, query: dict[str, Any]) -> tuple[list, dict[str, int]]:
    """One page of ``items`` and its ``{total, page, pageSize}``; past the end is empty."""
    page, size = query["page"], query["pageSize"]
    start = (page - 1) * size
    return list(items[start : start + size]), {
        "total": items.count(),
        "page": page,
        "pageSize": size,
    }
