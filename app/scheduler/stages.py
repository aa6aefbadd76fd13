"""What the fire path's stages hand each other, in the order a fire meets them.

The pass (:mod:`app.scheduler.passes`) makes :class:`Fire` values; the intake writes them
as rows and tells the runner of each row to start (:class:`Queued`); the claim reads a
:class:`RunSpec` for each row it takes; the runner hands the recorder a
:class:`StartRecord` (claimed: follow its output) and an :class:`OutcomeRecord` for each
attempt, and a :class:`LateOutputRecord` when a handler reports after its attempt was
ended; the recorder adds an :class:`OutputRecord` now and then for a running attempt that
prints.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Fire:
    """One job's fires handed out by a pass: the one to run (None: none within the grace
    time) and the ones missed (more than ``misfire_grace_seconds`` late), oldest first."""

    job_id: str
    scheduled_for: dt.datetime | None
    missed: tuple[dt.datetime, ...] = ()


@dataclass(frozen=True)
class Queued:
    """A run the intake queued: a worker claims it at its start (the claim reads what
    starting it needs, as the job is then)."""

    execution_id: int
    job_id: str
    scheduled_at: dt.datetime
    start_after: dt.datetime | None = None  # the fire's time plus its jitter

    @property
    def starts_at(self) -> dt.datetime:
        """When the run is to start: its jittered time, else its scheduled time."""
        return self.start_after or self.scheduled_at


@dataclass(frozen=True)
class RunSpec:
    """What starting a queued execution needs: its row and its job's definition."""

    execution_id: int
    scheduled_at: dt.datetime
    attempt: int
    retry_of: int | None
    trigger: str
    job_id: str
    type: str
    configuration: dict
    max_duration_seconds: int
    retry_count: int
    retry_delay_seconds: int
    overlap_policy: str
    updated_at: dt.datetime  # the job's, when this definition was read
    misfire_grace_seconds: int = 60  # a scheduled fire later than this is missed
    run_on: dict | None = None  # labels a worker must have to claim it
    concurrency_group: str | None = None  # at most the group's limit run at once
    start_after: dt.datetime | None = None  # the fire's time plus its jitter
    configuration_overrides: dict | None = None  # run-now's, merged over configuration
    expected_duration_seconds: int | None = None  # past it the run is slow (told once)

    def runs_on(self, labels: dict) -> bool:
        """Whether a worker with ``labels`` may claim it (it has all of run_on)."""
        return all(labels.get(key) == value for key, value in (self.run_on or {}).items())

    @property
    def starts_at(self) -> dt.datetime:
        """When the run is to start: its jittered time, else its scheduled time."""
        return self.start_after or self.scheduled_at


@dataclass(frozen=True)
class StartRecord:
    """An attempt started: its row goes from ``queued`` to ``running``."""

    execution_id: int
    started_at: dt.datetime


@dataclass(frozen=True)
class OutcomeRecord:
    """An attempt ended; ``retry_at`` is set when another attempt should follow."""

    execution_id: int
    job_id: str
    status: str
    started_at: dt.datetime | None
    finished_at: dt.datetime
    duration_ms: int | None
    result: dict[str, Any] | None
    output: str | None
    output_truncated: bool
    error: str | None
    retry_at: dt.datetime | None = None
    attempt: int = 1
    retry_of: int | None = None
    configuration_overrides: dict | None = None  # a retry runs with them too


@dataclass(frozen=True)
class OutputRecord:
    """What a running attempt has printed so far (its row's live ``output``)."""

    execution_id: int
    output: str
    output_truncated: bool


@dataclass(frozen=True)
class LateOutputRecord:
    """What a handler reported after its attempt was ended (timed out, cancelled): its
    output replaces what the row holds, its result fills one the row lacks."""

    execution_id: int
    output: str | None
    output_truncated: bool
    result: dict[str, Any] | None


@dataclass(frozen=True)
class SlowRecord:
    """A running attempt went past its job's expected_duration_seconds."""

    execution_id: int
    job_id: str


Record = StartRecord | OutcomeRecord | OutputRecord | LateOutputRecord | SlowRecord
