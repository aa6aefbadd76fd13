"""Pings: /ping/<key>[/start|/fail|/<exit code>], from cron jobs that heartbeat monitors
watch. Open (the key is the secret), GET or POST; a POST body is kept as the output."""

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from app.errors import ValidationFailed
from app.runtime import current as runtime
from app.services import pings
from app.services.pings import FAIL, START, SUCCESS

blp = Blueprint(
    "pings",
    __name__,
    url_prefix="/ping",
    description="Pings from the cron jobs heartbeat monitors watch (no token: the URL is "
    "the secret).",
)
MAX_EXIT_CODE = 255
_ANSWERS = {
    "200": {
        "description": "OK: the ping is recorded.",
        "content": {"text/plain": {"schema": {"type": "string", "example": "OK"}}},
    },
    "404": {"description": "No monitor has this ping URL."},
    "413": {"description": "The body is larger than CRONWELL_MAX_CONTENT_LENGTH."},
    "429": {
        "description": "Past CRONWELL_PINGS_PER_MINUTE for this monitor, or too many pings to "
        "unknown URLs from this address; Retry-After says when to ping again.",
    },
}


@blp.route("/<uuid:key>", endpoint="Ping", defaults={"kind": SUCCESS})
@blp.route("/<uuid:key>/start", endpoint="PingStart", defaults={"kind": START})
@blp.route("/<uuid:key>/fail", endpoint="PingFail", defaults={"kind": FAIL})
@blp.route("/<uuid:key>/<int:code>", endpoint="PingExitCode", defaults={"kind": FAIL})
class Ping(MethodView):
    @blp.doc(security=[], responses=_ANSWERS)
    def get(self, key, kind, code=None):
        """Ping a heartbeat monitor: success; /start: the job began; /fail or /<exit
        code> (0-255; 0 is a success): the job ended

        Each fire of the monitor's schedule waits misfire_grace_seconds for a ping, and
        is missed ("no ping") without one. An end ping ends the run a /start began (its
        duration counts from there), else the fire waiting within the grace time, else it
        is recorded on its own. A started run with no end within max_duration_seconds is
        a timeout.
        """
        return _ping(key, kind, code)

    @blp.doc(security=[], responses=_ANSWERS)
    def post(self, key, kind, code=None):
        """Ping a heartbeat monitor, the body kept as the run's output (its last 64 KiB)"""
        return _ping(key, kind, code, request.get_data(cache=False))


def _ping(key, kind: str, code: int | None, body: bytes = b"") -> Response:
    if code is not None:
        if code > MAX_EXIT_CODE:
            raise ValidationFailed("exit_code", f"Must be an exit code from 0 to {MAX_EXIT_CODE}.")
        kind = SUCCESS if code == 0 else FAIL
    pings.ping(runtime(), str(key), kind, code, body, request.remote_addr)
    return Response("OK", 200, content_type="text/plain; charset=utf-8")
