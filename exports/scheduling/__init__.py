"""Scheduling: when a recurring request is due, and which data window each run reads.

Modules: ``slots`` (the only slot arithmetic), ``windows`` (the one data-window rule per item
and job), ``scheduler`` (due requests → jobs, ``next_run_at``, catch-up and per-user caps),
``words`` (a schedule in words) and ``presets`` (the editor's schedule presets), ``conf``
(the scheduler's settings), ``signals`` (receivers that keep ``next_run_at`` right). Jobs,
once created, belong to ``exports.queue``. ``manage.py runscheduler`` runs both in a loop.
"""
