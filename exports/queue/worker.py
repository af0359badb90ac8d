"""The RQ worker class of the site (``RQ["WORKER_CLASS"]``), used by ``manage.py runworker``."""

from __future__ import annotations

import importlib

from django.core.files.storage import default_storage
from rq import Worker

# The modules our jobs run in; see PreloadingWorker.
JOB_MODULES = ("exports.queue.runner", "notifications.jobs", "exports.iam")


class PreloadingWorker(Worker):
    """RQ's forking worker, with the job modules imported once in the parent process.

    RQ forks a work horse for every job. A module first imported inside the horse is imported
    again for every job: for the export engine and its writers that is about half a second
    of each small export. Imported before the fork, the horses inherit them.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for module in JOB_MODULES:
            importlib.import_module(module)
        # Likewise the object-storage client (S3): built once here, inherited by every horse.
        warm = getattr(default_storage, "warm", None)
        if warm is not None:
            warm()
