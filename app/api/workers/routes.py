"""GET /api/workers."""

from flask.views import MethodView
from flask_smorest import Blueprint

from app.runtime import current as runtime
from app.schemas.workers import WorkerSchema
from app.services import workers as service

blp = Blueprint(
    "workers", __name__, url_prefix="/api", description="The processes that run executions."
)


@blp.route("/workers")
class Workers(MethodView):
    @blp.response(200, WorkerSchema(many=True))
    def get(self):
        """List the workers seen in the last 10 minutes, with their state"""
        return service.list_workers(runtime())
