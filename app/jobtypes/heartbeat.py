"""``heartbeat``: a monitor of a cron job that runs elsewhere. It runs nothing: the job
sends pings to its ping URL, and each fire of the monitor's schedule waits for one
(app/core/pings.py)."""

from __future__ import annotations

from marshmallow import Schema

from app.jobtypes.base import JobType, RunContext, RunResult

HEARTBEAT = "heartbeat"


class HeartbeatConfigSchema(Schema):
    """A monitor takes no configuration: its schedule and grace time say when pings are
    due, and its ping URL is made for it."""


class HeartbeatJobType(JobType):
    name = HEARTBEAT
    description = (
        "Runs nothing: watches a cron job that runs elsewhere, which pings the monitor's "
        "ping URL. A fire with no ping within misfire_grace_seconds is missed."
    )
    config_schema = HeartbeatConfigSchema

    def run(self, context: RunContext) -> RunResult:
        # Only a run started by hand (a chain, say) comes here: a monitor's fires wait
        # for pings and are never handed to a worker.
        return RunResult(
            ok=False,
            error="A heartbeat monitor runs nothing: the job it watches pings its ping URL.",
        )
