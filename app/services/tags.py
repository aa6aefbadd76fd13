"""A job's tags: kept one row per tag in ``job_tags``, read back with the job, and the
``?tag=`` filter (jobs that have every tag asked for)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, bindparam, delete, func, insert, select

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


_TAGS_OF = (
    select(JobTag.job_id, JobTag.tag)
    .where(JobTag.job_id.in_(bindparam("ids", expanding=True)))
    .order_by(JobTag.job_id, JobTag.tag)
)


def attach(session: Any, jobs: Sequence[Job]) -> None:
    """Fill each job's ``tags`` (one read for all)."""
    by_job: dict[str, list[str]] = {job.id: [] for job in jobs}
    if by_job:
        rows = session.connection().execute(_TAGS_OF, {"ids": list(by_job)})
        for job_id, tag in rows:
            by_job[job_id].append(tag)
    for job in jobs:
        job.tags = by_job.get(job.id, [])


def having_all() -> ColumnElement[bool]:
    """A condition on jobs: they carry every one of the tags given as the ``tags``
    parameter, ``tag_count`` of them, each once (an index read per tag)."""
    carriers = (
        select(JobTag.job_id)
        .where(JobTag.tag.in_(bindparam("tags", expanding=True)))
        .group_by(JobTag.job_id)
        .having(func.count() == bindparam("tag_count"))
    )
    return Job.id.in_(carriers)
