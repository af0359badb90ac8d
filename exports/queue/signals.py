"""Signals of the export queue.

``job_finished``: sent by :mod:`exports.queue.lifecycle` right after it ended a job ``done`` or
``failed`` (``sender``: ``ExportJob``; ``job``: the instance, carrying the row's new state).
Receivers run in the process that made the change, after its update; an exception in one is
logged and never undoes or interrupts the transition. The notifications app connects its
receiver in ``NotificationsConfig.ready()``; a process that dies between the update and its
receivers is covered by the scheduler tick (``notifications.dispatch.notify_unnotified_jobs``).

``job_reaped``: sent by the reaper after it settled a job whose worker was lost (``job``: the
fresh row; ``failed``: True when the job ended failed, False when it went back to waiting).
Failure notifications do not need it (``fail`` sends ``job_finished``); it tells what the
reaper did, for logs and tests.
"""

from django.dispatch import Signal

job_finished = Signal()
job_reaped = Signal()
