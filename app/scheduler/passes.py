"""The scheduler pass: the store's due jobs become fires, written in one transaction.

The leader's pass loop calls :class:`Pass` (see :mod:`app.scheduler.aps`). A pass:

1. reads from the store every job due within ``PREFIRE_SECONDS`` (not only those due
   now) and works out each one's fire times up to that horizon with its trigger
   (:func:`plan_fires`, pure: no I/O);
2. writes, in one transaction fenced by the leadership number
   (:meth:`app.scheduler.leader.Leadership.fence`), an execution row for each fire
   (:func:`record_fires`) and the jobs' new next run times in the store (a job with no
   fire left leaves it);
3. offers the queued rows to this process's runner, which claims each one at its time
   (the other workers find them at their poll);
4. tells the pass loop how long to wait: until the next fire is within the horizon,
   at least half the horizon (a change wakes it sooner).

Writing fires up to a second ahead takes the pass's database work off the path from a
fire's time to its start, and writes a burst of a thousand jobs due at once before the
instant comes. The store lock is held from the read to the commit, so a change applied
to the store meanwhile (:mod:`app.scheduler.sync`) waits for the pass. On a database
error nothing is written: the store still holds the old next run times, and the next
pass hands the same fires out again.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from apscheduler.job import Job as APSJob
from sqlalchemy import Connection

from app.config import Settings
from app.db import Database, utcnow
from app.scheduler.intake import record_fires
from app.scheduler.leader import StaleLeadership
from app.scheduler.stages import Fire, Queued
from app.scheduler.store import CronwellJobStore

logger = logging.getLogger("cronwell.scheduler")
#: Seconds before a pass after a database error.
RETRY_SECONDS = 1.0


@dataclass
class Plan:
    """What a pass hands out and how the store moves on."""

    fires: list[Fire] = field(default_factory=list)
    moved: list[APSJob] = field(default_factory=list)  # with their new next_run_time
    done: list[str] = field(default_factory=list)  # ids of jobs with no fire left


def fire_times(job: APSJob, horizon: dt.datetime) -> tuple[list[dt.datetime], dt.datetime | None]:
    """The job's fire times up to ``horizon``, and its first fire after it (or None)."""
    times: list[dt.datetime] = []
    moment = job.next_run_time
    while moment is not None and moment <= horizon:
        times.append(moment)
        following = job.trigger.get_next_fire_time(moment, horizon)
        if following is not None and following <= moment:
            break  # a trigger that does not move on: never loop on it
        moment = following
    return times, moment


def split_run_times(
    run_times: Sequence[dt.datetime], grace_seconds: float | None, now: dt.datetime
) -> tuple[dt.datetime | None, list[dt.datetime]]:
    """(the fire to run or None, the fires missed): missed fires coalesce into one run,
    the latest within the grace time."""
    grace = dt.timedelta(seconds=grace_seconds) if grace_seconds is not None else None
    due = [t for t in run_times if grace is None or now - t <= grace]
    to_run = due[-1] if due else None
    return to_run, [t for t in run_times if t is not to_run]


def plan_fires(due_jobs: Sequence[APSJob], now: dt.datetime, horizon: dt.datetime) -> Plan:
    """The fires of ``due_jobs`` up to ``horizon``: past ones split into the one to run and
    the missed, each future one a fire of its own. Sets each job's next run time."""
    plan = Plan()
    for job in due_jobs:
        times, following = fire_times(job, horizon)
        past = [t for t in times if t <= now]
        if past:
            to_run, missed = split_run_times(past, job.misfire_grace_time, now)
            plan.fires.append(Fire(job.id, to_run, tuple(missed)))
        plan.fires.extend(Fire(job.id, t) for t in times[len(past) :])
        if following is None:
            plan.done.append(job.id)
        else:
            job.next_run_time = following
            plan.moved.append(job)
    return plan


class Pass:
    """One scheduler pass, called by the pass loop; returns the seconds to wait."""

    def __init__(
        self,
        db: Database,
        store: CronwellJobStore,
        offer: Callable[[list[Queued]], None] | None,
        prefire_seconds: float,
        settings: Settings,
        fence: Callable[[Connection], None],
        fenced: threading.Event,
    ) -> None:
        self.db = db
        self.settings = settings
        self.store = store
        self.offer = offer  # this process's runner (None: it executes nothing)
        self.prefire = dt.timedelta(seconds=max(0.0, prefire_seconds))
        self.fence = fence
        self.fenced = fenced

    def __call__(self) -> float | None:
        now = utcnow()
        horizon = now + self.prefire
        queued: list[Queued] = []
        try:
            with self.store.lock:
                due = self.store.get_due_jobs(horizon)
                if due:
                    plan = plan_fires(due, now, horizon)
                    moved = self.store.advance_rows(plan.moved)
                    with self.db.write_connection() as connection:
                        self.fence(connection)  # refused under a stale leadership
                        queued = record_fires(connection, plan.fires, self.settings)
                        self.store.advance(connection, moved, plan.done)
                next_time = self.store.get_next_run_time()
        except StaleLeadership:
            logger.warning("A pass was refused: this process no longer leads")
            self.fenced.set()  # the manager steps down
            return None
        except Exception:
            logger.exception("A scheduler pass failed; its fires will be handed out again")
            return RETRY_SECONDS
        if queued and self.offer is not None:
            self.offer(queued)
        return self.wait_seconds(next_time)

    def wait_seconds(self, next_time: dt.datetime | None) -> float | None:
        """Until ``next_time`` is within the horizon; at least half the horizon."""
        if next_time is None:
            return None
        until_due = (next_time - self.prefire - utcnow()).total_seconds()
        return min(max(until_due, self.prefire.total_seconds() / 2), threading.TIMEOUT_MAX)
