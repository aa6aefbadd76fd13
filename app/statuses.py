"""The names of things a run goes through, said once: an execution's status and what
started it (StrEnums: each member is its string, as stored and as the API says it)."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """An execution's status: queued -> running -> one final status."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    MISSED = "missed"
    INTERRUPTED = "interrupted"


class Trigger(StrEnum):
    """What started an execution."""

    SCHEDULE = "schedule"
    MANUAL = "manual"
    RETRY = "retry"
    CHAIN = "chain"
    CATCH_UP = "catch_up"
    BACKFILL = "backfill"
    PING = "ping"  # a heartbeat monitor's ping (app/core/pings.py)


#: Finished for good.
FINAL_STATUSES = (
    Status.SUCCESS, Status.FAILED, Status.TIMEOUT, Status.CANCELLED, Status.SKIPPED,
    Status.MISSED, Status.INTERRUPTED,
)  # fmt: skip
#: Still to run, or running.
ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING)
ALL_STATUSES = tuple(Status)
#: Attempts that really ran (they count in run_count and set last_*).
RAN_STATUSES = (
    Status.SUCCESS, Status.FAILED, Status.TIMEOUT, Status.CANCELLED, Status.INTERRUPTED,
)  # fmt: skip
#: Attempts that failed (a retry may follow; they notify as failures).
FAILED_STATUSES = (Status.FAILED, Status.TIMEOUT, Status.INTERRUPTED)
TRIGGERS = tuple(Trigger)
