"""Revisions of each job's definition: every create, change, enable, disable, delete and
restore writes one (with its audit entry) in the change's own transaction; a run does not.

A revision keeps the whole definition (secrets too: restoring one must bring them back)
and what changed from the one before. Answers mask secrets for all but admins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from app.db import utcnow
from app.errors import NotFound
from app.models import Job, JobRevision
from app.runtime import Runtime
from app.services import audit
from app.services.access import current_caller

#: What a job's definition is: the fields a client sets (``tags`` and ``deleted`` too).
FIELDS = (
    "name",
    "description",
    "type",
    "configuration",
    "schedule_type",
    "schedule_config",
    "timezone",
    "is_enabled",
    "max_duration_seconds",
    "retry_count",
    "retry_delay_seconds",
    "overlap_policy",
    "misfire_grace_seconds",
    "jitter_seconds",
    "expected_duration_seconds",
    "run_on",
    "concurrency_group",
    "calendars",
    "notify",
    "on_success",
    "on_failure",
)


_REVISION_INSERT = insert(JobRevision)
#: The job's next revision number, taken in the change's transaction (two changes at once
#: never take the same one).
_NEXT_REVISION = (
    update(Job)
    .where(Job.id == bindparam("job_id"))
    .values(revision=Job.revision + 1)
    .returning(Job.revision)
)


def definition(job: Any, tags: Sequence[str] | None) -> dict[str, Any]:
    """The definition of ``job`` (a Job, or a mapping of its columns) with ``tags``."""
    get = job.get if isinstance(job, Mapping) else lambda name: getattr(job, name)
    shown = {name: _plain(get(name)) for name in FIELDS}
    shown["tags"] = sorted(tags or [])
    shown["deleted"] = get("deleted_at") is not None
    return shown


def _plain(value: Any) -> Any:
    """A copy JSON keeps as it is (lists and dicts copied, so later changes to the job's
    own do not reach the revision)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def diff(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """``{field: [before, after]}`` for each field that differs."""
    before = before or {}
    return {
        name: [before.get(name), value]
        for name, value in after.items()
        if before.get(name) != value
    }


def record(
    connection: Any,
    job_id: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any],
    action: str,
) -> dict[str, list[Any]]:
    """Write the next revision of ``job_id`` and its audit entry, in ``connection``'s
    transaction (a Connection or a Session); the changes (empty: nothing written)."""
    changes = diff(before, after)
    if not changes:
        return changes
    if isinstance(connection, Session):  # Core statements: the ORM's bookkeeping costs more
        connection = connection.connection()
    if before is None:
        number = 1  # the job's row was inserted with revision 1
    else:
        number = connection.execute(_NEXT_REVISION, {"job_id": job_id}).scalar_one()
    connection.execute(
        _REVISION_INSERT,
        {
            "job_id": job_id,
            "revision": number,
            "at": utcnow(),
            "actor": current_caller().actor,
            "definition": dict(after),
            "changes": changes,
        },
    )
    audit.record(connection, action, f"job:{job_id}", changes)
    return changes


def list_revisions(rt: Runtime, job_id: str) -> list[JobRevision]:
    """The revisions of ``job_id``, newest first (a job that never existed: 404)."""
    with rt.db.read() as session:
        revisions = session.scalars(
            select(JobRevision)
            .where(JobRevision.job_id == job_id)
            .order_by(JobRevision.revision.desc())
        ).all()
        if not revisions and session.get(Job, job_id) is None:
            raise NotFound(f"Job {job_id!r} not found.")
    return list(revisions)


#: The largest revision number a database integer column holds everywhere.
MAX_REVISION = 2**31 - 1


def get_revision(rt: Runtime, job_id: str, number: int) -> JobRevision:
    revision = None
    if 0 < number <= MAX_REVISION:
        with rt.db.read() as session:
            revision = session.get(JobRevision, (job_id, number))
    if revision is None:
        raise NotFound(f"Job {job_id!r} has no revision {number}.")
    return revision
