"""The one error every transport raises."""

from __future__ import annotations


class TransportError(Exception):
    """A message could not be delivered.

    ``permanent`` means retrying cannot help (a deleted webhook, a bot blocked by
    the chat, a refused address); otherwise the error is transient (a timeout, a
    5xx, a 429) and ``retry_after`` carries the provider's requested wait in
    seconds, when it gave one. ``str(error)`` is the text shown to people.
    """

    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message
