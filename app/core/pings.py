"""Heartbeat monitors: what a ping writes, and the deadlines of what monitors wait for.

A monitor's fire is a ``queued`` row that no worker claims: its ``worker`` is
:data:`~app.models.PING_HOLDER`, and its ``lease_until`` is its time plus the job's
``misfire_grace_seconds`` (:func:`app.scheduler.intake.waiting_row`). Then:

* A ``start`` ping makes the oldest fire waiting within the grace time of now
  ``running`` (trigger ``ping``, started now), until now plus ``max_duration_seconds``.
  With no such fire, it writes a running row of its own.
* An end ping (success, failure or an exit code) ends the newest started run (its
  duration counts from the start), else the oldest fire waiting within the grace time,
  else it writes a finished row of its own dated now: every ping accepted is recorded.
* :func:`expire` (the leader's, about each second) records ``missed`` with the error
  ``no ping`` each fire whose grace time passed with no ping, and ``timeout`` each
  started run past its ``max_duration_seconds``.

A ping touches a handful of rows found through indexes: its cost does not grow with the
number of monitors or of their runs. Outcomes are settled like any run's (counts,
notifications, chains), in the ping's own transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, insert, select, update

from app.config import Settings
from app.core.finals import Final, apply_outcome, settle
from app.db import utcnow
from app.models import PING_HOLDER, Execution
from app.statuses import Status, Trigger

executions = Execution.__table__
#: The error of a fire no ping came for (the contract's words).
NO_PING = "no ping"
START, SUCCESS, FAIL = "start", "success", "fail"


@dataclass(frozen=True)
class Ping:
    """One ping: its kind (``start``, ``success`` or ``fail``), the exit code it gave,
    and the body it carried (the tail kept as output)."""

    kind: str
    exit_code: int | None = None
    output: str | None = None
    output_truncated: bool = False

    @property
    def status(self) -> str:
        """The final status an end ping gives."""
        if self.kind == FAIL or (self.exit_code is not None and self.exit_code != 0):
            return Status.FAILED
        return Status.SUCCESS

    @property
    def error(self) -> str | None:
        if self.exit_code:
            return f"The monitored job exited with code {self.exit_code}."
        if self.kind == FAIL:
            return "The monitored job reported a failure (/fail)."
        return None


@dataclass(frozen=True)
class Monitor:
    """What a ping needs of its job."""

    id: str
    misfire_grace_seconds: int
    max_duration_seconds: int


#: Statements built once (building one costs more than running it here).
_STARTED = (
    select(executions.c.id, executions.c.started_at)
    .where(
        executions.c.job_id == bindparam("b_job"),
        executions.c.status == Status.RUNNING,
        executions.c.worker == PING_HOLDER,
    )
    .order_by(executions.c.started_at.desc(), executions.c.id.desc())
    .limit(1)
    .with_for_update()
)
_WAITING = (
    select(executions.c.id)
    .where(
        executions.c.job_id == bindparam("b_job"),
        executions.c.status == Status.QUEUED,
        executions.c.worker == PING_HOLDER,
        executions.c.scheduled_at >= bindparam("b_from"),
        executions.c.scheduled_at <= bindparam("b_to"),
    )
    .order_by(executions.c.scheduled_at, executions.c.id)
    .limit(1)
    .with_for_update()
)
#: Executed with the columns to set: only a row still in the status ``b_was`` changes.
_UPDATE = (
    update(executions)
    .where(executions.c.id == bindparam("b_id"), executions.c.status == bindparam("b_was"))
    .returning(executions.c.id)
)
_INSERT = insert(executions).returning(executions.c.id)


def record(connection: Connection, monitor: Monitor, ping: Ping, settings: Settings) -> int:
    """Write ``ping`` for ``monitor`` in the caller's transaction; the execution it
    started, ended or wrote."""
    now = utcnow()
    if ping.kind == START:
        return _start(connection, monitor, now)
    started = connection.execute(_STARTED, {"b_job": monitor.id}).first()
    status, error = ping.status, ping.error
    ended = {
        "status": status,
        "trigger": Trigger.PING,
        "finished_at": now,
        "result": {"exit_code": ping.exit_code} if ping.exit_code is not None else {},
        "output": ping.output,
        "output_truncated": ping.output_truncated,
        "error": error,
        "lease_until": None,
        "duration_ms": None,
    }
    execution_id = None
    started_at = None
    if started is not None:
        started_at = started.started_at
        ended["duration_ms"] = int((now - started_at).total_seconds() * 1000)
        execution_id = _update(connection, started.id, Status.RUNNING, ended)
    else:
        waiting = _waiting(connection, monitor, now)
        if waiting is not None:
            execution_id = _update(connection, waiting, Status.QUEUED, ended)
    if execution_id is None:
        execution_id = _insert(connection, monitor, now, ended)
    duration = ended["duration_ms"]
    apply_outcome(connection, monitor.id, status, started_at or now, now, duration, error)
    settle(connection, [Final(execution_id, monitor.id, status)], settings)
    return execution_id


def _start(connection: Connection, monitor: Monitor, now: dt.datetime) -> int:
    running = {
        "status": Status.RUNNING,
        "trigger": Trigger.PING,
        "started_at": now,
        "lease_until": now + dt.timedelta(seconds=monitor.max_duration_seconds),
    }
    waiting = _waiting(connection, monitor, now)
    if waiting is not None:
        execution_id = _update(connection, waiting, Status.QUEUED, running)
        if execution_id is not None:
            return execution_id
    return _insert(connection, monitor, now, {"output_truncated": False, **running})


def _insert(connection: Connection, monitor: Monitor, now: dt.datetime, values: dict) -> int:
    """A row of the ping's own (no fire waited for it), dated now."""
    row = {
        "job_id": monitor.id, "attempt": 1, "scheduled_at": now, "created_at": now,
        "worker": PING_HOLDER, "cancel_requested": False, "slow": False, **values,
    }  # fmt: skip
    return connection.execute(_INSERT, row).scalar_one()


def _waiting(connection: Connection, monitor: Monitor, now: dt.datetime) -> int | None:
    """The oldest of the monitor's fires that waits for a ping within its grace time of
    now (a fire written a moment ahead of its time included)."""
    grace = dt.timedelta(seconds=monitor.misfire_grace_seconds)
    window = {"b_job": monitor.id, "b_from": now - grace, "b_to": now + grace}
    return connection.scalar(_WAITING, window)


def _update(connection: Connection, execution_id: int, was: str, values: dict) -> int | None:
    """Give the row ``values`` if it is still ``was`` (a ping, a cancel or the deadline
    may have come first); its id, or None."""
    return connection.scalar(_UPDATE, {"b_id": execution_id, "b_was": was, **values})


#: A monitor's row past its deadline (waiting for a ping, or for the end of a start).
_PAST_DEADLINE = (
    executions.c.status.in_((Status.QUEUED, Status.RUNNING)),
    executions.c.worker == PING_HOLDER,
    executions.c.lease_until < bindparam("now"),
)


def any_expired(connection: Connection, now: dt.datetime) -> bool:
    """Whether :func:`expire` has anything to do (a read: most seconds it has not)."""
    found = select(executions.c.id).where(*_PAST_DEADLINE).limit(1)
    return connection.scalar(found, {"now": now}) is not None


def expire(connection: Connection, now: dt.datetime) -> list[Final]:
    """Record ``missed`` (``no ping``) the fires whose grace time passed with no ping, and
    ``timeout`` the started runs past their ``max_duration_seconds``, in the caller's
    transaction; their finals, for it to settle."""
    finals = [
        Final(row.id, row.job_id, Status.MISSED)
        for row in connection.execute(
            update(executions)
            .where(
                executions.c.status == Status.QUEUED,
                executions.c.worker == PING_HOLDER,
                executions.c.lease_until < now,
            )
            .values(status=Status.MISSED, finished_at=now, error=NO_PING, lease_until=None)
            .returning(executions.c.id, executions.c.job_id)
        )
    ]
    late = connection.execute(
        select(executions.c.id, executions.c.job_id, executions.c.started_at)
        .where(
            executions.c.status == Status.RUNNING,
            executions.c.worker == PING_HOLDER,
            executions.c.lease_until < now,
        )
        .with_for_update()
    ).all()
    for row in late:
        duration = int((now - row.started_at).total_seconds() * 1000)
        error = "The monitored job pinged its start and sent no end within max_duration_seconds."
        done = _update(connection, row.id, Status.RUNNING, {
            "status": Status.TIMEOUT, "finished_at": now, "duration_ms": duration,
            "error": error, "lease_until": None,
        })  # fmt: skip
        if done is not None:
            timeout = Status.TIMEOUT
            apply_outcome(connection, row.job_id, timeout, row.started_at, now, duration, error)
            finals.append(Final(row.id, row.job_id, Status.TIMEOUT))
    return finals
