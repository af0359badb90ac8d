"""Work a web worker would otherwise do on its first requests, done once in gunicorn's arbiter
(``deploy/gunicorn.conf.py``, ``preload_app``) so that every worker forked from it starts warm.

Nothing here opens a database connection: a connection made before the fork would be shared
by every worker.
"""

from __future__ import annotations

from django.db import connections
from django.template.loader import get_template
from django.urls import reverse

# The pages served most: the list, a request, the editor and what they include.
TEMPLATES = (
    "base.html",
    "exports/request_list.html",
    "exports/request_detail.html",
    "exports/request_form.html",
    "exports/_jobs.html",
    "exports/_pagination.html",
    "exports/_sort_header.html",
)


def warm_up() -> None:
    """Compile the main templates and the list's filter form, and load every URL pattern
    (which imports every view)."""
    from exports.requests.listing import RequestListForm

    reverse("exports:list")  # loads every URL pattern, and so every view
    for name in TEMPLATES:
        get_template(name)
    form = RequestListForm({})
    for field in form:
        str(field)  # the form renderer's own templates, and the filter selects' cache
    connections.close_all()
