"""An API error with its status, message and JSON path (kept apart so parsers can raise it)."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import APIException


class Problem(APIException):
    """An error answer with an explicit status, message and optional JSON path.

    ``retry_after`` (seconds) is answered as ``Retry-After`` (DRF's ``wait``).
    """

    def __init__(
        self,
        status_code: int,
        message: str,
        path: str = "",
        *,
        retry_after: int | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.errors = [{"path": path, "message": message}]
        self.extra = extra
        self.wait = retry_after
