"""Scheduling: slots, job creation, fair dispatch to RQ, and the reaper.

Modules: ``slots`` (the only slot arithmetic), ``windows`` (data window per job),
``scheduler`` (due requests → jobs, ``next_run_at``), ``ondemand`` (one-time jobs and
"Run now", per-user cap), ``dispatch`` (round-robin hand-over to RQ), ``lifecycle`` (the
worker's claim/heartbeat/finish), ``reaper`` (lost workers), ``signals`` (receivers to
connect and the ``job_reaped`` signal), ``namespace`` (the per-installation prefix of our RQ
job ids and Redis keys). ``manage.py runscheduler`` runs them in a loop.
"""
