"""Scheduler status, schedule preview, job types (/api/...) and /healthz."""

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from app.gate import requires
from app.runtime import current as runtime
from app.schemas.scheduler import (
    HealthSchema,
    JobTypeSchema,
    PreviewRequestSchema,
    PreviewSchema,
    SchedulerSchema,
)
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
