"""The audit log: every change, written in the transaction of the change itself.

A service that changes something calls :func:`record` with the connection (or session)
of its write; the actor, source and address are the current caller's
(:func:`app.services.access.current_caller`). Secrets in ``changes`` are masked here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.models import AuditEntry
from app.runtime import Runtime
from app.services.access import current_caller
from app.services.secrets import masked_changes

_INSERT = insert(AuditEntry)
#: Every action the log records.
ACTIONS = (
    "job.create",
    "job.update",
    "job.restore_revision",
    "job.delete",
    "job.restore",
    "job.enable",
    "job.disable",
    "job.run",
    "job.backfill",
    "job.backfill_cancel",
    "job.ping_url",
    "execution.cancel",
    "calendar.create",
    "calendar.update",
    "calendar.delete",
    "scheduler.pause",
    "scheduler.resume",
    "user.create",
    "user.update",
    "key.create",
    "key.revoke",
    "login",
    "login.failed",
)


def record(
    connection: Any, action: str, target: str, changes: dict[str, list[Any]] | None = None
) -> None:
    """Write one entry in ``connection``'s transaction (a Connection or a Session)."""
    caller = current_caller()
    if isinstance(connection, Session):  # Core statements: the ORM's bookkeeping costs more
        connection = connection.connection()
    connection.execute(
        _INSERT,
        {
            "at": utcnow(),
            "actor": caller.actor,
            "action": action,
            "target": target,
            "source": caller.source,
            "remote_addr": caller.remote_addr,
            "changes": masked_changes(changes or {}),
        },
    )


@dataclass(frozen=True)
class AuditFilters:
    actor: str | None = None
    action: str | None = None
    target: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def list_entries(
    rt: Runtime, filters: AuditFilters, page: int, page_size: int
) -> tuple[list[AuditEntry], int]:
    """A page of entries, newest first, and how many match."""
    conditions = []
    for name in ("actor", "action", "target"):
        value = getattr(filters, name)
        if value:
            conditions.append(getattr(AuditEntry, name) == value)
    if filters.since:
        conditions.append(AuditEntry.at >= filters.since)
    if filters.until:
        conditions.append(AuditEntry.at < filters.until)
    with rt.db.read() as session:
        total = session.scalar(select(func.count()).select_from(AuditEntry).where(*conditions))
        entries = session.scalars(
            select(AuditEntry)
            .where(*conditions)
            .order_by(AuditEntry.id.desc())
            .limit(page_size)
            .offset((page - 1) * page_size)
        ).all()
    return list(entries), total or 0
