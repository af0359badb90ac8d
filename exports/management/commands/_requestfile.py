"""Shared by the commands that take a request JSON file and an owner."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from exports.requests.json_values import decode_json
from exports.requests.schema import RequestSchemaError, parse_request
from exports.requests.spec import RequestSpec


def load_spec(path: str, username: str) -> RequestSpec:
    """Read, decode and validate a request JSON file for ``username``.

    Raises ``CommandError`` with a specific message for a missing file, bad
    JSON, an unknown owner or any validation problem (listed by JSON path).
    """
    try:
        owner = get_user_model().objects.get(username=username)
    except get_user_model().DoesNotExist:
        raise CommandError(f"No user named {username!r}.") from None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CommandError(f"{path} is not UTF-8 text.") from None
    try:
        data = decode_json(text)
    except ValueError as exc:
        raise CommandError(f"{path} is not valid JSON: {exc}.") from None
    try:
        return parse_request(data, owner=owner)
    except RequestSchemaError as exc:
        lines = [f"  {field}: {' '.join(messages)}" for field, messages in exc.errors.items()]
        raise CommandError("Invalid export request:\n" + "\n".join(lines)) from None
