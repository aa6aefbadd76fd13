"""A job's tags: kept one row per tag in ``job_tags``, read back with the job, and the
``?tag=`` filter (jobs that have every tag asked for)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, select

from app.models import Job, JobTag


def normalized(tags: Iterable[str] | None) -> list[str]:
    """Each tag once, sorted: a job's tags are a set, shown in a stable order."""
    return sorted(set(tags or ()))


def write_tags(connection: Any, job_id: str, tags: Sequence[str], *, replace: bool) -> None:
    """Store ``tags`` as the job's (``replace``: drop the ones it had first)."""
    if replace:
        connection.execute(delete(JobTag).where(JobTag.job_id == job_id))
    if tags:
        connection.execute(insert(JobTag), [{"job_id": job_id, "tag": tag} for tag in tags])


def attach(session: Any, jobs: Sequence[Job]) -> None:
    """Fill each job's ``tags`` (one read for all)."""
    by_job: dict[str, list[str]] = {job.id: [] for job in jobs}
    if by_job:
        rows = session.execute(
            select(JobTag.job_id, JobTag.tag)
            .where(JobTag.job_id.in_(by_job))
            .order_by(JobTag.job_id, JobTag.tag)
        )
        for job_id, tag in rows:
            by_job[job_id].append(tag)
    for job in jobs:
        job.tags = by_job.get(job.id, [])


def having_all(tags: Sequence[str]) -> ColumnElement[bool]:
    """A condition on jobs: they carry every one of ``tags`` (an index read per tag)."""
    wanted = set(tags)
    carriers = (
        select(JobTag.job_id)
        .where(JobTag.tag.in_(wanted))
        .group_by(JobTag.job_id)
        .having(func.count() == len(wanted))
    )
    return Job.id.in_(carriers)
