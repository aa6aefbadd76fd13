"""The runner's inbox: what other threads post to its loop (:mod:`app.scheduler.runner`),
and the entries of its ready heap."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from app.jobtypes.base import RunResult
from app.scheduler.recorder import Entry
from app.scheduler.stages import RunSpec
from app.scheduler.workers import Attempt


@dataclass(frozen=True)
class Offered:
    """Queued rows just written (the pass) or read, to start at their time."""

    specs: list[RunSpec]


@dataclass(frozen=True)
class Woken:
    """Rows queued in this process (a run-now, chained runs): read them by id now."""

    execution_ids: tuple[int, ...]


@dataclass(frozen=True)
class PollSoon:
    """Another worker queued a run for now: poll the queue at once."""


@dataclass(frozen=True)
class CancelAsked:
    """A run was cancelled in the database: stop it if it runs here."""

    execution_id: int


@dataclass(frozen=True)
class HandlerDone:
    """A handler returned (its thread is free)."""

    attempt: Attempt
    status: str
    result: RunResult


@dataclass(frozen=True)
class Written:
    """The recorder wrote these outcomes (or found them no longer this worker's)."""

    entries: list[Entry]


@dataclass(frozen=True)
class Stop:
    """Start nothing more; let running attempts finish for ``grace`` seconds."""

    grace: float


Event = Offered | Woken | PollSoon | CancelAsked | HandlerDone | Written | Stop


@dataclass
class Ready:
    """A queued execution the runner knows of (in the heap as (time, id, Ready))."""

    spec: RunSpec
    verified: float = 0.0  # monotonic time of the last check that the row is queued

    @property
    def execution_id(self) -> int:
        return self.spec.execution_id

    def key(self) -> tuple[dt.datetime, int, Ready]:
        return (self.spec.starts_at, self.spec.execution_id, self)
