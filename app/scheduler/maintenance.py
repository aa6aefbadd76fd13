"""The leader's upkeep: runs whose worker was lost, heartbeat monitors' deadlines, history
past its limit, and audit entries past their retention."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy import Connection, delete, select

from app.config import Settings
from app.core import pings
from app.core.finals import settle
from app.db import Database, utcnow
from app.jobtypes import JobTypeRegistry
from app.models import AuditEntry, Execution, Job
from app.scheduler.reaping import reap_expired
from app.statuses import ACTIVE_STATUSES

logger = logging.getLogger("cronwell.scheduler")
PRUNE_BATCH = 500


def reap_lost_runs(
    db: Database,
    settings: Settings,
    fence: Callable[[Connection], None],
    registry: JobTypeRegistry,
) -> int:
    """Record ``interrupted`` the runs whose worker stopped renewing their lease, with
    their retries (the leader's, fenced); end what they left on this host."""
    with db.write_connection() as connection:
        fence(connection)
        reaped, _ = reap_expired(connection, settings)
    if reaped:
        logger.warning("Marked %d run(s) interrupted: their worker's lease ended", len(reaped))
        ended = registry.end_leftovers(set(reaped))  # this host's, of each run's worker
        if ended:
            logger.warning("Killed %d process group(s) left by interrupted runs", ended)
    return len(reaped)


def expire_monitors(db: Database, settings: Settings, fence: Callable[[Connection], None]) -> int:
    """Record what heartbeat monitors waited for in vain (``missed``: no ping in the grace
    time; ``timeout``: no end after a start), settled like any outcome (the leader's,
    fenced); how many."""
    with db.reader.connect() as connection:
        if not pings.any_expired(connection, utcnow()):
            return 0
    with db.write_connection() as connection:
        fence(connection)
        finals = pings.expire(connection, utcnow())
        settle(connection, finals, settings)
    return len(finals)


def prune_history(
    db: Database, job_ids: set[str], limit: int, fence: Callable[[Connection], None]
) -> int:
    """Keep the newest ``limit`` finished executions per job, in small batches (the
    leader's writes, fenced).

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
                    Execution.status.not_in(ACTIVE_STATUSES),
                )
                .order_by(Execution.id)
                .limit(PRUNE_BATCH)
            )
            with db.write() as session:
                fence(session.connection())
                count = session.execute(
                    delete(Execution).where(Execution.id.in_(doomed.scalar_subquery()))
                ).rowcount
            removed += count
            if count < PRUNE_BATCH:
                break
    return removed


def prune_audit(db: Database, retention_days: float, fence: Callable[[Connection], None]) -> int:
    """Delete audit entries older than ``retention_days`` (the leader's write, fenced)."""
    cutoff = utcnow() - dt.timedelta(days=retention_days)
    with db.write_connection() as connection:
        fence(connection)
        removed = connection.execute(delete(AuditEntry).where(AuditEntry.at < cutoff)).rowcount
    if removed:
        logger.info("Pruned %d audit entries older than %s days", removed, retention_days)
    return removed
