"""An APScheduler executor that hands fires to the intake instead of running them.

APScheduler's thread pool executor runs the job function in the scheduler's executor
threads, so a slow job or a burst delays other fires, and a fire later than the grace
time is dropped with only a log line. This executor does neither: for each due job it
splits the run times into the one to run (the latest within ``misfire_grace_time``) and
the ones missed, and calls the job's function with both, which only queues them in
memory. Runs happen in :mod:`app.scheduler.runner`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from apscheduler.executors.base import BaseExecutor
from apscheduler.job import Job as APSJob


def split_run_times(
    run_times: Sequence[dt.datetime], grace_seconds: float | None, now: dt.datetime
) -> tuple[dt.datetime | None, list[dt.datetime]]:
    """(the fire to run or None, the fires missed): missed fires coalesce into one run."""
    grace = dt.timedelta(seconds=grace_seconds) if grace_seconds is not None else None
    due = [t for t in run_times if grace is None or now - t <= grace]
    to_run = due[-1] if due else None
    return to_run, [t for t in run_times if t is not to_run]


class IntakeExecutor(BaseExecutor):
    """Submits fires to the job's function (``dispatch.fire``) without a thread pool."""

    def submit_job(self, job: APSJob, run_times: list[dt.datetime]) -> None:
        # No max_instances bookkeeping: overlap is decided by the intake from our rows.
        self._do_submit_job(job, run_times)

    def _do_submit_job(self, job: APSJob, run_times: list[dt.datetime]) -> None:
        now = dt.datetime.now(dt.UTC)
        past = [t for t in run_times if t <= now]
        if past:
            to_run, missed = split_run_times(past, job.misfire_grace_time, now)
            job.func(*job.args, scheduled_for=to_run, missed=missed)
        for ahead in run_times[len(past) :]:
            job.func(*job.args, scheduled_for=ahead, missed=())
