"""Django admin for the exports app.

Requests are edited with their items, columns and notification messages inline (Django
runs the whole change form in one transaction, so a save emits one IAM event). A request
can also be imported from, and downloaded as, its JSON shape: import goes through
``exports.requests.schema.parse_request``, the one validator. Messages, jobs and IAM events are
records of what happened, so their pages are read-only.

Each module registers its admins when imported; Django's autodiscovery imports this package.
The bus subscriber's dead letters (`bus`) are read-only too; staff may delete them once seen.
"""

from exports.admin import bus, catalog, jobs, requests, tokens  # noqa: F401 (registers the admins)
