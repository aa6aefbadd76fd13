"""Execution history and cancel: /api/jobs/{job_id}/executions."""

from flask.views import MethodView
from flask_smorest import Blueprint

from app.gate import requires
from app.runtime import current as runtime
from app.schemas import pagination
from app.schemas.executions import ExecutionListArgs, ExecutionSchema
from app.services import executions as service
from app.services.access import Role

blp = Blueprint(
    "executions",
    __name__,
    url_prefix="/api/jobs/<string:job_id>/executions",
    description="Every fire and attempt of a job, one row each.",
)


@blp.route("")
class Executions(MethodView):
    @blp.arguments(ExecutionListArgs(), location="query")
    @blp.response(200, ExecutionSchema(many=True), headers=pagination.HEADER_DOC)
    @blp.alt_response(404, description="Unknown or deleted job.")
    def get(self, args, job_id):
        """List a job's executions, newest first"""
        page, page_size = args["page"], args["page_size"]
        items, total = service.list_executions(
            runtime(), job_id, args.get("status"), page, page_size, trigger=args.get("trigger")
        )
        return items, 200, pagination.pagination_header(page, page_size, total)


@blp.route("/<int:execution_id>")
class ExecutionById(MethodView):
    @blp.response(200, ExecutionSchema)
    @blp.alt_response(404, description="Unknown job, or the execution is not that job's.")
    def get(self, job_id, execution_id):
        """Get one execution"""
        return service.get_execution(runtime(), job_id, execution_id)


@blp.route("/<int:execution_id>/cancel")
class CancelExecution(MethodView):
    @requires(Role.OPERATOR)
    @blp.response(202, ExecutionSchema)
    @blp.alt_response(404, description="Unknown job or execution.")
    @blp.alt_response(409, description="The execution already finished.")
    def post(self, job_id, execution_id):
        """Cancel a queued or running execution

        A queued one is recorded `cancelled` at once; a running one is stopped (a shell
        job's process group killed, an HTTP call abandoned) and recorded `cancelled`;
        the answer waits up to 2 s for that.
        """
        return service.cancel_execution(runtime(), job_id, execution_id)
