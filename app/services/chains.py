"""Checks on a job's chains (``on_success``, ``on_failure``) when it is saved: every id
names a live job, and no chain loops back to the job. The hand-off itself happens with a
run's outcome (:mod:`app.core.finals`)."""

from __future__ import annotations

from collections import deque
from typing import Any

from sqlalchemy import select

from app.errors import ValidationFailed
from app.models import Job

CHAIN_FIELDS = ("on_success", "on_failure")


def check_chains(session: Any, job_id: str, chains: dict[str, list[str]]) -> dict[str, list[str]]:
    """``chains`` (field -> job ids) as stored: each id once, in order. Raises
    :class:`ValidationFailed` naming the field for an unknown or deleted job, or a loop."""
    cleaned = {field: list(dict.fromkeys(ids)) for field, ids in chains.items()}
    wanted = {target for ids in cleaned.values() for target in ids}
    if not wanted:
        return cleaned
    rows = session.execute(select(Job.id, Job.deleted_at).where(Job.id.in_(wanted))).all()
    found = {row.id: row.deleted_at for row in rows}
    for field, ids in cleaned.items():
        for target in ids:
            if target not in found:
                raise ValidationFailed(field, f"Unknown job {target!r}.")
            if found[target] is not None:
                raise ValidationFailed(field, f"Job {target!r} is deleted.")
    edges = _edges(session)
    edges[job_id] = wanted
    for field, ids in cleaned.items():
        for target in ids:
            loop = _path(edges, target, job_id)
            if loop is not None:
                names = " -> ".join([job_id, *loop])
                raise ValidationFailed(field, f"The chain loops back to this job: {names}.")
    return cleaned


def _edges(session: Any) -> dict[str, set[str]]:
    """Every live job's chain targets."""
    rows = session.execute(
        select(Job.id, Job.on_success, Job.on_failure).where(Job.deleted_at.is_(None))
    )
    return {row.id: set(row.on_success or ()) | set(row.on_failure or ()) for row in rows}


def _path(edges: dict[str, set[str]], start: str, goal: str) -> list[str] | None:
    """The job ids from ``start`` to ``goal`` along the chains (breadth first), if any."""
    parent: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        if current == goal:
            path = [current]
            while parent[path[-1]] is not None:
                path.append(parent[path[-1]])
            return path[::-1]
        for following in edges.get(current, ()):
            if following not in parent:
                parent[following] = current
                queue.append(following)
    return None
