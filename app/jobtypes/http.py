"""The ``http`` job type: one HTTP request with a total deadline."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import urllib3
from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from app.jobtypes.base import JobType, OutputTail, RunContext, RunResult

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_pool = urllib3.PoolManager(num_pools=50, maxsize=20, retries=False)


class HttpConfigSchema(Schema):
    url = fields.String(
        required=True,
        validate=validate.Length(min=1, max=2048),
        metadata={"description": "http:// or https:// URL to call."},
    )
    method = fields.String(load_default="GET", validate=validate.OneOf(METHODS))
    headers = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=256)),
        values=fields.String(validate=validate.Length(max=8192)),
        load_default=dict,
        validate=validate.Length(max=50),
    )
    params = fields.Dict(
        keys=fields.String(validate=validate.Length(max=256)),
        values=fields.String(validate=validate.Length(max=8192)),
        load_default=dict,
        validate=validate.Length(max=100),
    )
    json = fields.Raw(allow_none=True, metadata={"description": "Body sent as JSON."})
    body = fields.String(validate=validate.Length(max=1024 * 1024), allow_none=True)
    expected_status = fields.List(
        fields.Integer(validate=validate.Range(100, 599)),
        validate=validate.Length(min=1, max=50),
        metadata={"description": "Status codes that count as success (default: any 2xx)."},
    )

    @validates("url")
    def _check_url(self, value: str, **_: Any) -> None:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationError("Must be an absolute http:// or https:// URL.")

    @validates_schema
    def _one_body(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("json") is not None and data.get("body") is not None:
            raise ValidationError("Give either json or body, not both.", "body")


def perform_request(
    context: RunContext,
    *,
    url: str,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
) -> tuple[int, OutputTail]:
    """Send one request within the context's deadline; return status and body tail.

    The connect and each read are bounded by the time left; the runner records the
    timeout at the deadline itself, so a server trickling bytes cannot hold the run.
    """
    remaining = max(context.remaining(), 0.001)
    response = _pool.request(
        method,
        url,
        body=body,
        headers=dict(headers or {}),
        timeout=urllib3.Timeout(connect=remaining, read=remaining),
        preload_content=False,
        redirect=False,
    )
    tail = OutputTail()
    try:
        for chunk in response.stream(16384, decode_content=True):
            tail.feed(chunk)
            if context.cancelled.is_set() or context.remaining() <= 0:
                break
    finally:
        response.release_conn() if not context.cancelled.is_set() else response.close()
    return response.status, tail


def host_allowed(url: str, allowed: list[str] | None) -> bool:
    if not allowed:
        return True
    host = (urlsplit(url).hostname or "").lower()
    return host in {h.lower() for h in allowed}


class HttpJobType(JobType):
    name = "http"
    description = "Calls a URL; succeeds when the response status is expected (any 2xx)."
    config_schema = HttpConfigSchema

    def validate(self, configuration: Any, settings: Mapping[str, Any]) -> dict[str, Any]:
        data = super().validate(configuration, settings)
        if not host_allowed(data["url"], settings.get("HTTP_ALLOWED_HOSTS")):
            raise ValidationError({"url": ["Host is not in CRONWELL_HTTP_ALLOWED_HOSTS."]})
        return data

    def run(self, context: RunContext) -> RunResult:
        config = context.configuration
        url = config["url"]
        if not host_allowed(url, context.settings.get("HTTP_ALLOWED_HOSTS")):
            # The allow-list may have changed since the job was created.
            return RunResult(ok=False, error="Host is not in CRONWELL_HTTP_ALLOWED_HOSTS.")
        if config.get("params"):
            url += ("&" if "?" in url else "?") + urlencode(config["params"])
        headers = dict(config.get("headers") or {})
        body = None
        if config.get("json") is not None:
            body = json.dumps(config["json"]).encode()
            headers.setdefault("Content-Type", "application/json")
        elif config.get("body") is not None:
            body = config["body"].encode()
        try:
            status, tail = perform_request(
                context, url=url, method=config.get("method", "GET"), headers=headers, body=body
            )
        except urllib3.exceptions.HTTPError as exc:
            return RunResult(ok=False, error=f"HTTP request failed: {exc}")
        expected = config.get("expected_status")
        ok = status in expected if expected else 200 <= status < 300
        return RunResult(
            ok=ok,
            result={"status_code": status},
            output=tail.text(),
            output_truncated=tail.truncated,
            error=None if ok else f"Unexpected HTTP status {status}.",
        )
