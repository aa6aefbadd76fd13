"""Execution schemas."""

from marshmallow import Schema, fields, validate

from app.models import NOTIFICATION_STATUSES, NOTIFY_EVENTS
from app.schemas.fields import StrictInteger
from app.schemas.pagination import PageArgs
from app.services import secrets
from app.services.backfills import DEFAULT_MAX_RUNS, MAX_RUNS
from app.services.notifications import masked_url
from app.statuses import ALL_STATUSES, TRIGGERS


class NotificationSchema(Schema):
    event = fields.String(dump_only=True, metadata={"enum": list(NOTIFY_EVENTS)})
    url = fields.Function(
        lambda n: masked_url(n.url),
        dump_only=True,
        metadata={"type": "string", "description": "Passwords and tokens masked."},
    )
    status = fields.String(
        dump_only=True,
        metadata={
            "enum": list(NOTIFICATION_STATUSES),
            "description": "pending until the receiver answers 2xx (sent) or every try "
            "failed (failed).",
        },
    )
    attempts = fields.Integer(dump_only=True)
    error = fields.String(
        dump_only=True, allow_none=True, metadata={"description": "Of the last failed try."}
    )
    sent_at = fields.DateTime(dump_only=True, allow_none=True)


class ExecutionSchema(Schema):
    id = fields.Integer(dump_only=True)
    job_id = fields.String(dump_only=True)
    status = fields.String(
        dump_only=True,
        metadata={"enum": list(ALL_STATUSES), "description": "queued -> running -> final."},
    )
    trigger = fields.String(dump_only=True, metadata={"enum": list(TRIGGERS)})
    attempt = fields.Integer(dump_only=True, metadata={"description": "1 for the first try."})
    retry_of = fields.Integer(
        dump_only=True, allow_none=True, metadata={"description": "First attempt's id."}
    )
    triggered_by = fields.Integer(
        dump_only=True,
        allow_none=True,
        metadata={"description": "For trigger chain: the execution whose outcome started it."},
    )
    slow = fields.Boolean(
        dump_only=True,
        metadata={"description": "It ran past its job's expected_duration_seconds."},
    )
    configuration_overrides = fields.Function(
        lambda run: secrets.shown_configuration(run.configuration_overrides),
        dump_only=True,
        allow_none=True,
        metadata={
            "type": "object",
            "nullable": True,
            "description": "The run-now overrides it ran with (merged over the job's); "
            "secrets masked but for admins.",
        },
    )
    scheduled_at = fields.DateTime(
        dump_only=True, metadata={"description": "The fire time meant (for retries: when due)."}
    )
    started_at = fields.DateTime(dump_only=True, allow_none=True)
    finished_at = fields.DateTime(dump_only=True, allow_none=True)
    duration_ms = fields.Integer(dump_only=True, allow_none=True)
    result = fields.Dict(
        dump_only=True,
        allow_none=True,
        metadata={
            "description": "From the job type ({status_code} or {exit_code}); missed rows "
            "carry missed_fires and the first and last fire times."
        },
    )
    output = fields.String(
        dump_only=True,
        allow_none=True,
        metadata={
            "description": "The last 64 KiB. While a shell run goes, what it printed so "
            "far, at most about a second old."
        },
    )
    output_truncated = fields.Boolean(dump_only=True)
    error = fields.String(dump_only=True, allow_none=True)
    worker = fields.String(
        dump_only=True,
        allow_none=True,
        metadata={
            "description": "The worker whose claim started the run (host:pid:nonce, as in "
            "GET /api/workers), or null for a run that never started."
        },
    )
    cancel_requested = fields.Boolean(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    notifications = fields.List(
        fields.Nested(NotificationSchema),
        dump_only=True,
        metadata={"description": "One per URL and event this execution called for."},
    )


class ExecutionListArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(ALL_STATUSES))
    trigger = fields.String(validate=validate.OneOf(TRIGGERS))


class RunNowSchema(Schema):
    """An optional run-now body."""

    configuration = fields.Dict(
        metadata={
            "description": "Configuration keys for this run only, merged over the job's and "
            "checked by its type's schema; kept as the execution's configuration_overrides."
        }
    )


class IdempotencyHeaders(Schema):
    class Meta:
        unknown = "exclude"

    idempotency_key = fields.String(
        data_key="Idempotency-Key",
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Repeat the request with the same key to get the same run."},
    )


class BackfillRequestSchema(Schema):
    start = fields.AwareDateTime(required=True, metadata={"description": "Fires from here."})
    end = fields.AwareDateTime(
        required=True, metadata={"description": "Up to here (included); not in the future."}
    )
    max_runs = StrictInteger(
        load_default=DEFAULT_MAX_RUNS,
        validate=validate.Range(1, MAX_RUNS),
        metadata={"description": "More fires than this in the range is a 422."},
    )


class BackfillStartedSchema(Schema):
    backfill_id = fields.Integer()
    runs = fields.Integer(metadata={"description": "Fires in the range: one run each."})
    first = fields.DateTime(metadata={"description": "The first fire (it runs first)."})
    last = fields.DateTime()


class BackfillSchema(Schema):
    id = fields.Integer()
    start = fields.DateTime()
    end = fields.DateTime()
    runs = fields.Integer()
    done = fields.Integer(metadata={"description": "Runs that reached a final status."})
    succeeded = fields.Integer()
    state = fields.String(metadata={"enum": ["running", "done", "cancelled"]})
    created_at = fields.DateTime()
    created_by = fields.String()
    cancelled_at = fields.DateTime(allow_none=True)
