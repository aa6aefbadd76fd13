"""GET /metrics: Prometheus' text format (token needed when one is set, as on /api)."""

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from app.runtime import current as runtime
from app.services import metrics as service

blp = Blueprint("metrics", __name__, description="Prometheus metrics.")


@blp.route("/metrics")
class Metrics(MethodView):
    @blp.doc(
        responses={
            "200": {
                "description": "The figures of the contract's Metrics table, in Prometheus' "
                "text format (OpenMetrics when the Accept header asks for it). Per-job "
                "figures come from the database: every worker answers the same. Each "
                "process answers from a snapshot it renders every "
                "METRICS_REFRESH_SECONDS (5) while scraped, so a figure can be that many "
                "seconds old.",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        }
    )
    def get(self):
        """Metrics for Prometheus"""
        body, content_type = service.scrape(runtime(), request.headers.get("Accept"))
        return Response(body, content_type=content_type)
