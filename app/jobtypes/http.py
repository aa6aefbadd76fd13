"""The ``http`` job type: one HTTP call with a total deadline, through urllib3.

The client (pools, proxies, redirects, the deadline) is :mod:`app.httpclient`, which the
agent types and the notifications share; this module is the job's configuration and what
makes a run a success.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode, urlsplit

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from app.config import Settings
from app.httpclient import Request, RequestFailed, host_allowed, perform_request
from app.jobtypes.base import JobType, RunContext, RunResult, failed_request

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_VALUE_BREAK = re.compile(r"[\r\n\x00]")
# Set from the body by the client: the message's framing is not the job's to choose.
_FRAMING_HEADERS = ("content-length", "transfer-encoding")


def header_problem(name: str, value: str) -> str | None:
    """Why a request header cannot be sent as given, or None."""
    if not _HEADER_NAME.fullmatch(name):
        return f"Header name {name!r} is not a valid HTTP token."
    if name.lower() in _FRAMING_HEADERS:
        return f"Header {name} is set from the body."
    if _HEADER_VALUE_BREAK.search(value):
        return f"Header {name} has a line break or NUL in its value."
    return None


def _check_http_url(value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("Must be an absolute http:// or https:// URL.")
    try:
        _ = parts.port  # out of range or not a number: ValueError
    except ValueError as exc:
        raise ValidationError(f"Bad port: {exc}.") from exc


class StatusCodes(fields.Field):
    """One status code or a list of them; loaded as a list."""

    _code = fields.Integer(strict=True, validate=validate.Range(100, 599))

    def _deserialize(self, value: Any, attr, data, **kwargs) -> list[int]:
        codes = value if isinstance(value, list) else [value]
        if not 1 <= len(codes) <= 50:
            raise ValidationError("Give one status code or a list of 1 to 50.")
        return [self._code.deserialize(code) for code in codes]


class BasicAuthSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=256))
    password = fields.String(required=True, validate=validate.Length(max=1024))

    @validates("username")
    def _no_colon(self, value: str, **_: Any) -> None:
        if ":" in value:
            raise ValidationError("Basic auth user names cannot contain ':'.")


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
        metadata={
            "description": "Request headers. Names are HTTP tokens, values have no line "
            "breaks; Content-Length and Transfer-Encoding are set from the body."
        },
    )
    params = fields.Dict(
        keys=fields.String(validate=validate.Length(max=256)),
        values=fields.String(validate=validate.Length(max=8192)),
        load_default=dict,
        validate=validate.Length(max=100),
    )
    json = fields.Raw(allow_none=True, metadata={"description": "Body sent as JSON."})
    body = fields.String(validate=validate.Length(max=1024 * 1024), allow_none=True)
    expected_status = StatusCodes(
        metadata={
            "description": "The status code, or list of codes, that counts as success "
            "(default: any 2xx).",
            "oneOf": [
                {"type": "integer", "minimum": 100, "maximum": 599},
                {
                    "type": "array",
                    "items": {"type": "integer", "minimum": 100, "maximum": 599},
                    "minItems": 1,
                    "maxItems": 50,
                },
            ],
        },
    )
    auth = fields.Nested(
        BasicAuthSchema,
        allow_none=True,
        metadata={"description": "Basic auth: {username, password}."},
    )
    proxy = fields.String(
        allow_none=True,
        validate=validate.Length(min=1, max=2048),
        metadata={
            "description": "http:// or https:// URL of a proxy (user:password@ for its "
            "auth). Default: the HTTPS_PROXY / HTTP_PROXY / NO_PROXY variables."
        },
    )
    follow_redirects = fields.Boolean(
        load_default=False,
        metadata={
            "description": "Follow up to 10 redirects; each hop's host is checked against "
            "CRONWELL_HTTP_ALLOWED_HOSTS. Off: a redirect is the answer."
        },
    )
    verify_tls = fields.Boolean(
        load_default=True,
        metadata={"description": "Check the server's TLS certificate and host name."},
    )

    @validates("url")
    def _check_url(self, value: str, **_: Any) -> None:
        _check_http_url(value)

    @validates("proxy")
    def _check_proxy(self, value: str | None, **_: Any) -> None:
        if value is not None:
            _check_http_url(value)

    @validates("headers")
    def _check_headers(self, value: dict[str, str], **_: Any) -> None:
        problems = [p for p in (header_problem(k, v) for k, v in value.items()) if p]
        if problems:
            raise ValidationError(problems)

    @validates_schema
    def _one_body(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("json") is not None and data.get("body") is not None:
            raise ValidationError("Give either json or body, not both.", "body")


class HttpJobType(JobType):
    name = "http"
    description = "Calls a URL; succeeds when the response status is expected (any 2xx)."
    config_schema = HttpConfigSchema

    def validate(self, configuration: Any, settings: Settings) -> dict[str, Any]:
        data = super().validate(configuration, settings)
        if not host_allowed(data["url"], settings.http_allowed_hosts):
            raise ValidationError({"url": ["Host is not in CRONWELL_HTTP_ALLOWED_HOSTS."]})
        return data

    def run(self, context: RunContext) -> RunResult:
        config = context.configuration
        url = config["url"]
        if config.get("params"):
            url += ("&" if "?" in url else "?") + urlencode(config["params"])
        headers = dict(config.get("headers") or {})
        # The run's own headers (a job's headers of the same name win).
        headers.setdefault("X-Cronwell-Scheduled-At", context.scheduled_at_text())
        headers.setdefault("X-Cronwell-Execution-Id", str(context.execution_id))
        body = None
        if config.get("json") is not None:
            body = json.dumps(config["json"]).encode()
            headers.setdefault("Content-Type", "application/json")
        elif config.get("body") is not None:
            body = config["body"].encode()
        auth = config.get("auth")
        request = Request(
            url=url,
            method=config.get("method", "GET"),
            headers=headers,
            body=body,
            auth=(auth["username"], auth["password"]) if auth else None,
            proxy=config.get("proxy"),
            follow_redirects=bool(config.get("follow_redirects", False)),
            verify_tls=bool(config.get("verify_tls", True)),
        )
        try:
            answer = perform_request(context, request, context.settings.http_allowed_hosts)
        except RequestFailed as exc:
            return failed_request(exc, "HTTP request")
        expected = config.get("expected_status")
        if isinstance(expected, int):  # saved before it could be a list
            expected = [expected]
        ok = answer.status in expected if expected else 200 <= answer.status < 300
        result: dict[str, Any] = {"status_code": answer.status}
        if answer.url != url:
            result["url"] = answer.url  # where the redirects led
        return RunResult(
            ok=ok,
            result=result,
            output=answer.body.text(),
            output_truncated=answer.body.truncated,
            error=None if ok else f"Unexpected HTTP status {answer.status}.",
        )
