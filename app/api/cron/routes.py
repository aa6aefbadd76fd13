"""The /api/engine/cron API (placeholder until written)."""

from flask_smorest import Blueprint

blp = Blueprint("engine_cron", __name__, url_prefix="/api/engine/cron")
