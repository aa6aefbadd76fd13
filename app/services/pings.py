"""Heartbeat monitors: pings from the cron jobs they watch, and their ping URLs.

A ping needs no credentials: its URL's key is the secret. So that pings cannot flood the
database, each monitor takes at most ``CRONWELL_PINGS_PER_MINUTE`` of them (429 past it,
counted per process), and a ping to an unknown key counts as a wrong credential of its
address (``CRONWELL_AUTH_FAILURES_PER_MINUTE``): guessing keys soon gets 429 too. A ping
reads its monitor by the key's unique index and writes a handful of rows
(:mod:`app.core.pings`): its cost does not grow with the number of monitors.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import bindparam, select, update

from app.core import pings
from app.core.pings import FAIL, START, SUCCESS, Monitor, Ping
from app.db import utcnow
from app.errors import Conflict, NotFound, TooManyRequests
from app.jobtypes.heartbeat import HEARTBEAT
from app.models import Job
from app.outputs import OutputTail
from app.runtime import Runtime
from app.services import access, audit, secrets
from app.services.job_reads import get_job

__all__ = ["FAIL", "START", "SUCCESS", "key_for", "new_ping_url", "ping", "ping_url"]
#: Where pings go, before the key.
PING_PREFIX = "/ping/"
_MONITOR = select(Job.id, Job.misfire_grace_seconds, Job.max_duration_seconds).where(
    Job.ping_key == bindparam("key"), Job.deleted_at.is_(None), Job.type == HEARTBEAT
)


def new_key() -> str:
    """A new ping key: a random UUID (122 random bits)."""
    return str(uuid.uuid4())


def key_for(job_type: str, current: str | None) -> str | None:
    """The ping key a job of ``job_type`` keeps (its current one) or gets (a monitor
    without one); None for any other type: its old ping URL stops answering."""
    if job_type != HEARTBEAT:
        return None
    return current or new_key()


def ping_url(key: str | None, base_url: str) -> str | None:
    """The ping URL of a monitor with ``key`` (None: not a monitor), as the current caller
    may see it: whole for admins, else masked. ``base_url``: CRONWELL_PUBLIC_URL, or the
    address the request came to."""
    if not key:
        return None
    if not access.current_caller().may(access.Role.ADMIN):
        return secrets.MASK
    return base_url.rstrip("/") + PING_PREFIX + key


def ping(
    rt: Runtime,
    key: str,
    kind: str,
    exit_code: int | None = None,
    body: bytes = b"",
    address: str | None = None,
) -> int:
    """Record a ping (``kind``: ``start``, ``success`` or ``fail``) to the monitor whose
    key is ``key``; the execution it started, ended or wrote. ``body`` is kept as the
    output (its last 64 KiB)."""
    failures = access.failures(rt)
    wait = failures.retry_after(address)
    if wait is not None:
        raise TooManyRequests(
            f"Too many pings to unknown ping URLs from this address: try again in {wait} s.",
            wait,
        )
    limits = access.per_minute(rt, "pings_per_monitor", rt.settings.pings_per_minute)
    wait = limits.retry_after(key)
    if wait is not None:
        raise TooManyRequests(
            f"This monitor takes at most {rt.settings.pings_per_minute} pings a minute "
            f"(CRONWELL_PINGS_PER_MINUTE): try again in {wait} s.",
            wait,
        )
    with rt.db.reader.connect() as connection:
        row = connection.execute(_MONITOR, {"key": key}).first()
    if row is None:
        failures.hit(address)
        raise NotFound("No heartbeat monitor has this ping URL (a new one may have replaced it).")
    limits.hit(key)
    tail = OutputTail()
    tail.feed(body)
    output = tail.text() if body else None
    made = Ping(kind, exit_code, output, tail.truncated)
    with rt.db.write_connection() as connection:
        return pings.record(connection, Monitor(*row), made, rt.settings)


def new_ping_url(rt: Runtime, job_id: str) -> Any:
    """Give the monitor ``job_id`` a new ping key: the old URL stops answering at once."""
    job = get_job(rt, job_id)
    if job.type != HEARTBEAT:
        raise Conflict(
            f"Job {job_id!r} is a {job.type} job: only heartbeat monitors have a ping URL.",
            {"type": ["Must be heartbeat."]},
        )
    with rt.db.write_connection() as connection:
        connection.execute(
            update(Job)
            .where(Job.id == job_id, Job.deleted_at.is_(None))
            .values(ping_key=new_key(), updated_at=utcnow())
        )
        audit.record(connection, "job.ping_url", f"job:{job_id}", {"ping_url": ["old", "new"]})
    return get_job(rt, job_id)
