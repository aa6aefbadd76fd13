"""The agent job types of the /api/engine/cron seed: ``prompt``, ``skill``, ``pipeline``.

A run posts ``{job_id, execution_id, scheduled_at, trigger, agent_id, payload_type,
payload, session_mode}`` as JSON to ``AGENT_WEBHOOK_URL`` and succeeds on a 2xx.
"""

from __future__ import annotations

import json
from typing import Any

from marshmallow import Schema, fields, validate

from app.httpclient import Request, RequestFailed, perform_request
from app.jobtypes.base import JobType, RunContext, RunResult, failed_request

SESSION_MODES = ("isolated", "shared", "persistent")
AGENT_TYPES = ("prompt", "skill", "pipeline")


class AgentConfigSchema(Schema):
    agent_id = fields.String(load_default="main", validate=validate.Length(min=1, max=100))
    payload = fields.String(required=True, validate=validate.Length(max=100_000))
    session_mode = fields.String(load_default="isolated", validate=validate.OneOf(SESSION_MODES))


class AgentJobType(JobType):
    config_schema = AgentConfigSchema

    def __init__(self, name: str) -> None:
        self.name = name  # type: ignore[misc]
        self.description = f"Posts a {name} run to the agent webhook (AGENT_WEBHOOK_URL)."  # type: ignore[misc]

    def run(self, context: RunContext) -> RunResult:
        url = context.settings.agent_webhook_url
        if not url:
            return RunResult(
                ok=False,
                error="No agent webhook is configured: set CRONWELL_AGENT_WEBHOOK_URL to the "
                "URL that receives prompt, skill and pipeline runs.",
            )
        config = context.configuration
        message: dict[str, Any] = {
            "job_id": context.job_id,
            "execution_id": context.execution_id,
            "scheduled_at": context.scheduled_at_text(),
            "trigger": context.trigger,
            "agent_id": config.get("agent_id", "main"),
            "payload_type": self.name,
            "payload": config.get("payload"),
            "session_mode": config.get("session_mode", "isolated"),
        }
        try:
            answer = perform_request(
                context,
                Request(
                    url=url,
                    method="POST",
                    headers={"Content-Type": "application/json"},
                    body=json.dumps(message).encode(),
                ),
                context.settings.http_allowed_hosts,
            )
        except RequestFailed as exc:
            return failed_request(exc, "Agent webhook request")
        ok = 200 <= answer.status < 300
        return RunResult(
            ok=ok,
            result={"status_code": answer.status},
            output=answer.body.text(),
            output_truncated=answer.body.truncated,
            error=None if ok else f"Agent webhook answered HTTP {answer.status}.",
        )
