"""A worker, as GET /api/workers shows it."""

from marshmallow import Schema, fields

from app.services.workers import WORKER_STATES


class WorkerSchema(Schema):
    id = fields.String(dump_only=True, metadata={"description": "host:pid:nonce"})
    host = fields.String(dump_only=True)
    pid = fields.Integer(dump_only=True)
    labels = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        dump_only=True,
        metadata={"description": "CRONWELL_WORKER_LABELS: matched by jobs' run_on."},
    )
    capacity = fields.Integer(
        dump_only=True,
        metadata={"description": "CRONWELL_MAX_CONCURRENT; 0 when CRONWELL_EXECUTE is false."},
    )
    running = fields.Integer(dump_only=True, metadata={"description": "At its last heartbeat."})
    started_at = fields.DateTime(dump_only=True)
    heartbeat_at = fields.DateTime(dump_only=True)
    leader = fields.Boolean(dump_only=True, metadata={"description": "It leads the scheduler."})
    state = fields.String(
        dump_only=True,
        metadata={
            "enum": list(WORKER_STATES),
            "description": "lost: no heartbeat for CRONWELL_LEASE_SECONDS (its runs are "
            "recorded interrupted and retried elsewhere).",
        },
    )
