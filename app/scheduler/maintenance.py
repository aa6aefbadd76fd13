"""The leader's upkeep: runs a previous leader left behind, and history past its limit."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, func, select, update

from app.db import Database, utcnow
from app.jobtypes.shell import kill_orphans
from app.models import Execution, Job
from app.scheduler.finals import Final, settle
from app.scheduler.recorder import apply_outcome

logger = logging.getLogger("cronwell.scheduler")
PRUNE_BATCH = 500


def recover_interrupted(db: Database, settings: Mapping[str, Any]) -> int:
    """Mark runs the previous leader left queued or running as ``interrupted``.

    Retries dated in the future are kept: they are a schedule, not a run in flight.
    """
    now = utcnow()
    with db.write() as session:
        running = session.execute(
            select(Execution.id, Execution.job_id, Execution.started_at).where(
                Execution.status == "running"
            )
        ).all()
        for execution_id, job_id, started_at in running:
            duration = int((now - started_at).total_seconds() * 1000) if started_at else None
            error = "The service stopped while this run was in progress."
            session.execute(
                update(Execution)
                .where(Execution.id == execution_id)
                .values(status="interrupted", finished_at=now, duration_ms=duration, error=error)
            )
            apply_outcome(session, job_id, "interrupted", started_at, now, duration, error)
        queued = session.execute(
            update(Execution)
            .where(
                Execution.status == "queued",
                # A fire waiting for its jitter has not started: it still runs.
                func.coalesce(Execution.start_after, Execution.scheduled_at) <= now,
            )
            .values(
                status="interrupted",
                finished_at=now,
                # The runner writes starts in batches: a run started just before a
                # crash may still read queued.
                error="The service stopped before this run's start was recorded: "
                "it did not start, or started just before the stop.",
            )
            .returning(Execution.id, Execution.job_id)
        ).all()
        ended = [(e, j) for e, j, _ in running] + [(e, j) for e, j in queued]
        settle(session.connection(), [Final(e, j, "interrupted") for e, j in ended], settings)
    if running:
        killed = kill_orphans({execution_id for execution_id, _, _ in running})
        if killed:
            logger.warning("Killed %d process group(s) left by interrupted runs", killed)
    if running or queued:
        logger.warning(
            "Marked %d running and %d queued run(s) interrupted", len(running), len(queued)
        )
    return len(running) + len(queued)


def prune_history(db: Database, job_ids: set[str], limit: int) -> int:
    """Keep the newest ``limit`` finished executions per job, in small batches.

    ``job_ids``: the jobs that finished runs lately. One read finds those over the limit
    (a burst of one-shots finishes a thousand jobs, none of them over it); only those take
    the write lock.
    """
    jobs = sorted(job_ids)
    over: dict[str, int] = {}
    for start in range(0, len(jobs), PRUNE_BATCH):
        chunk = jobs[start : start + PRUNE_BATCH]
        cutoff = (
            select(Execution.id)
            .where(Execution.job_id == Job.id)
            .order_by(Execution.id.desc())
            .offset(limit)
            .limit(1)
            .correlate(Job)
            .scalar_subquery()
        )
        with db.read() as session:
            rows = session.execute(
                select(Job.id, cutoff).where(Job.id.in_(chunk), cutoff.is_not(None))
            ).all()
        over.update({job_id: job_cutoff for job_id, job_cutoff in rows})
    removed = 0
    for job_id, cutoff_id in over.items():
        while True:
            doomed = (
                select(Execution.id)
                .where(
                    Execution.job_id == job_id,
                    Execution.id <= cutoff_id,
                    Execution.status.not_in(("queued", "running")),
                )
                .order_by(Execution.id)
                .limit(PRUNE_BATCH)
            )
            with db.write() as session:
                count = session.execute(
                    delete(Execution).where(Execution.id.in_(doomed.scalar_subquery()))
                ).rowcount
            removed += count
            if count < PRUNE_BATCH:
                break
    return removed
