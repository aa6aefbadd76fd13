"""Scheduler status, schedule preview, job types (/api/...) and /healthz."""

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from app.gate import requires
from app.runtime import current as runtime
from app.schemas.scheduler import (
    HealthSchema,
    JobTypeSchema,
    PauseRequestSchema,
    PauseStateSchema,
    PreviewRequestSchema,
    PreviewSchema,
    ResumedSchema,
    ResumeRequestSchema,
    SchedulerSchema,
)
from app.services import pause
from app.services import status as service
from app.services.access import Role

blp = Blueprint("scheduler", __name__, url_prefix="/api", description="The scheduler itself.")
health_blp = Blueprint("health", __name__, description="Liveness for load balancers.")


@blp.route("/scheduler")
class SchedulerStatus(MethodView):
    @blp.response(200, SchedulerSchema)
    def get(self):
        """Scheduler status: running, active executions, counts, leader"""
        return service.scheduler_status(runtime())


@blp.route("/scheduler/pause")
class Pause(MethodView):
    @requires(Role.OPERATOR)
    @blp.arguments(PauseRequestSchema(), required=False, example={"reason": "database upgrade"})
    @blp.response(200, PauseStateSchema)
    def post(self, body):
        """Pause every scheduled fire, on every worker (operator)

        While paused, each due fire is recorded skipped with the error 'paused:
        <reason>'; run-now, retries and chains still run. Scheduled runs queued and not
        started are skipped at once. The pause survives restarts. Pausing a paused
        service changes nothing.
        """
        return pause.pause(runtime(), body.get("reason"))


@blp.route("/scheduler/resume")
class Resume(MethodView):
    @requires(Role.OPERATOR)
    @blp.arguments(ResumeRequestSchema(), required=False, example={"catch_up": True})
    @blp.response(200, ResumedSchema)
    def post(self, body):
        """Resume scheduled fires (operator)

        With catch_up, each job enabled now that had fires skipped while paused gets one
        run at once (trigger catch_up, scheduled_at the time of the resume).
        """
        state, runs = pause.resume(runtime(), body.get("catch_up", False))
        return {**state, "catch_up_runs": runs}


@blp.route("/schedules/preview")
class SchedulePreview(MethodView):
    @requires(Role.VIEWER)
    @blp.arguments(
        PreviewRequestSchema(),
        example={"schedule": "30 2 * * *", "timezone": "America/New_York", "count": 3},
    )
    @blp.response(200, PreviewSchema)
    def post(self, data):
        """Preview a schedule: description, next fire times, DST and day-field warnings"""
        return service.preview_schedule(runtime(), data)


@blp.route("/job-types")
class JobTypes(MethodView):
    @blp.response(200, JobTypeSchema(many=True))
    def get(self):
        """List the job types and their configuration schemas"""
        converter = current_app.extensions["cronwell_api"].ma_plugin.converter
        types = service.job_types(runtime())
        for item in types:
            item["config_schema"] = converter.schema2jsonschema(item["config_schema"])
        return types


@health_blp.route("/healthz")
class Health(MethodView):
    @health_blp.doc(security=[])  # open even when an API token is set
    @health_blp.response(200, HealthSchema)
    @health_blp.alt_response(503, schema=HealthSchema, description="Database or scheduler down.")
    def get(self):
        """Health: 200 when the database answers and the scheduler runs, else 503"""
        healthy, details = service.health(runtime())
        return details, 200 if healthy else 503
