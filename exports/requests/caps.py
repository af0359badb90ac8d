"""Caps on one request: how many items, columns and notification messages it may hold.

One set of caps for every way in — the pages, the admin (its inlines and its JSON import),
the API and ``createexport`` — read from settings when they are checked (so a test or an
operator may change them), with the same words everywhere:

* ``EXPORTS_MAX_ITEMS`` (100) items;
* ``EXPORTS_MAX_MESSAGES`` (20) notification messages. A message has exactly one target (an
  address, a webhook, a chat, or ``@team``), so one request names at most this many
  recipients. A ``@team`` is read when the message is sent and is not capped here: a team
  is a group of this site's users that only access managers change, not addresses typed
  into a request;
* columns: at most one per column id (each may be chosen once).

Text lengths (name, labels, file names, title, target) are the models' ``max_length``;
``max_length`` below reads them for the API schema.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from exports.requests.vocabulary import ColumnId

DEFAULT_MAX_ITEMS = 100
DEFAULT_MAX_MESSAGES = 20


def max_items() -> int:
    return getattr(settings, "EXPORTS_MAX_ITEMS", DEFAULT_MAX_ITEMS)


def max_messages() -> int:
    return getattr(settings, "EXPORTS_MAX_MESSAGES", DEFAULT_MAX_MESSAGES)


def max_columns() -> int:
    return len(ColumnId.values)


def too_many_items() -> str:
    return f"An export can have at most {max_items()} items (EXPORTS_MAX_ITEMS)."


def too_many_messages() -> str:
    return (
        f"An export can have at most {max_messages()} notification messages (EXPORTS_MAX_MESSAGES)."
    )


def too_many_columns() -> str:
    return f"An export can have at most {max_columns()} columns, each column once."


def count_problems(data: Any) -> dict[str, list[str]]:
    """The lists of a request's JSON longer than their cap, as ``{json_path: [message]}``.

    Checked before anything else is parsed, so ten thousand items cost one message.
    """
    fmt = data.get("format") if isinstance(data, dict) else None
    notification = data.get("notification") if isinstance(data, dict) else None
    lists = (
        ("items", data.get("items") if isinstance(data, dict) else None, max_items, too_many_items),
        (
            "format.columns",
            fmt.get("columns") if isinstance(fmt, dict) else None,
            max_columns,
            too_many_columns,
        ),
        (
            "notification.messages",
            notification.get("messages") if isinstance(notification, dict) else None,
            max_messages,
            too_many_messages,
        ),
    )
    return {
        path: [message()]
        for path, value, cap, message in lists
        if isinstance(value, list) and len(value) > cap()
    }


def max_length(model, field: str) -> int:
    """A model field's ``max_length``: the longest text the API schema announces."""
    return model._meta.get_field(field).max_length
