"""The ``http`` job type: one HTTP request with a total deadline."""

from __future__ import annotations

import http.client
import json
import math
import select
import socket
import ssl
import struct
import zlib
from collections import deque
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from app.jobtypes.base import JobType, OutputTail, RunContext, RunResult

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


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


class RequestFailed(Exception):
    """The request could not be made or its answer not read (connect, TLS, protocol)."""


class _ConnectionPool:
    """Idle keep-alive connections per (scheme, host, port), shared by the run threads.

    The standard library's ``http.client`` does the protocol. urllib3, used before, spent
    about 0.15 ms more CPU a request on this path (URL parsing, retries and timeout
    objects, header containers), which a burst of a thousand runs pays on one core.
    """

    def __init__(self, per_host: int = 20) -> None:
        self.per_host = per_host
        # deque's append and pop are atomic: no lock for 20 threads to queue on.
        self._idle: dict[tuple[str, str, int], deque[http.client.HTTPConnection]] = {}
        self._tls: ssl.SSLContext | None = None

    def take(self, scheme: str, host: str, port: int, timeout: float) -> http.client.HTTPConnection:
        key = (scheme, host, port)
        while True:
            try:
                connection = self._idle[key].pop()
            except (KeyError, IndexError):
                break
            # Asked every time: a server may close a kept-alive connection right after
            # its answer without saying so, and a request sent on it would fail.
            if _still_open(connection):
                _bound(connection, timeout)
                return connection
            connection.close()
        if scheme == "https":
            if self._tls is None:
                self._tls = ssl.create_default_context()
            return http.client.HTTPSConnection(host, port, timeout=timeout, context=self._tls)
        return _PlainConnection(host, port, timeout=timeout)

    def give_back(self, scheme: str, host: str, port: int, connection) -> None:
        idle = self._idle.setdefault((scheme, host, port), deque())
        if len(idle) < self.per_host:
            idle.append(connection)
        else:
            connection.close()


def _still_open(connection: http.client.HTTPConnection) -> bool:
    """An idle connection the server has not closed (nothing to read on it yet)."""
    sock = connection.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


class _PlainConnection(http.client.HTTPConnection):
    """A plain-TCP connection whose reads and writes are bounded by the kernel.

    A socket with a Python timeout polls before every send and receive: a system call
    more each time, and the GIL changes hands for each (a burst's 20 run threads queue
    for it). Once connected (Python's timeout bounds the connect), the socket blocks and
    SO_RCVTIMEO/SO_SNDTIMEO bound each read and write instead.
    """

    limit: float | None = None  # the kernel timeout set on the socket, in seconds

    def connect(self) -> None:
        super().connect()
        self.sock.settimeout(None)
        self.limit = None
        _bound(self, self.timeout)


def _bound(connection: http.client.HTTPConnection, timeout: float) -> None:
    """Bound each socket operation of ``connection`` by ``timeout`` seconds or a little more.

    Never less: a kernel timeout ends a read as if the body had ended (the standard
    library's socket file reads it as no data), so it must not come before the run's
    deadline, after which the runner records ``timeout`` whatever the handler returns.
    Kept when within a second over, as it is for the runs of one job: setting it is two
    system calls. TLS connections keep Python's timeout (a kernel timeout there would
    surface as an SSL error).
    """
    if not isinstance(connection, _PlainConnection):
        current = connection.sock.gettimeout()
        if current is None or not timeout - 1.0 <= current <= timeout + 0.05:
            connection.sock.settimeout(timeout)
        return
    if connection.limit is not None and timeout <= connection.limit <= timeout + 1.0:
        return
    # Rounded up to the microsecond, carried into the seconds (tv_usec must stay < 10**6).
    seconds, micros = divmod(math.ceil(timeout * 1_000_000), 1_000_000)
    value = struct.pack("@ll", seconds, micros)
    connection.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
    connection.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)
    connection.limit = timeout


_pool = _ConnectionPool()


def perform_request(
    context: RunContext,
    *,
    url: str,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
) -> tuple[int, OutputTail]:
    """Send one request within the context's deadline; return status and body tail.

    Every socket operation is bounded by the time left when the request starts, and the
    body is read only while time is left; the runner records the timeout at the deadline
    itself, so a server trickling bytes cannot hold the run.
    Redirects are not followed (the status is the answer). Raises RequestFailed.
    """
    parts = urlsplit(url)
    scheme, host = parts.scheme, parts.hostname or ""
    port = parts.port or (443 if scheme == "https" else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    tail = OutputTail()
    connection = None
    try:
        connection = _pool.take(scheme, host, port, max(context.remaining(), 0.001))
        connection.request(method, target, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        decoder = _decoder(response.getheader("Content-Encoding"))
        finished = False
        while True:
            chunk = response.read(16384)
            if not chunk:
                finished = True
                break
            tail.feed(decoder.decompress(chunk) if decoder else chunk)
            if context.cancelled.is_set() or context.remaining() <= 0:
                break
        if finished and decoder:
            tail.feed(decoder.flush())
        # Past the deadline, an end of the body may be the socket's timeout (see _bound).
        reusable = not response.will_close and context.remaining() > 0
        if finished and reusable and not context.cancelled.is_set():
            _pool.give_back(scheme, host, port, connection)
            connection = None
        return response.status, tail
    except (OSError, http.client.HTTPException, zlib.error) as exc:
        timed_out = isinstance(exc, TimeoutError) or context.remaining() <= 0
        raise RequestFailed(_describe(exc, host, port, timed_out)) from exc
    finally:
        if connection is not None:
            connection.close()


def _decoder(encoding: str | None):
    """A decompressor for a gzip or deflate body (as urllib3 decoded them), else None."""
    encoding = (encoding or "").strip().lower()
    if encoding == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj()
    return None


def _describe(exc: BaseException, host: str, port: int, timed_out: bool) -> str:
    if timed_out:  # whatever the socket made of it (see _bound)
        return f"timed out talking to {host}:{port}"
    return f"{type(exc).__name__} talking to {host}:{port}: {exc}"


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
        except RequestFailed as exc:
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
