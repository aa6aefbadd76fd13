"""The ``http`` job type: one HTTP request with a total deadline.

The client is small and ours: a pool of kept-alive sockets, the request written in one
send, and the answer parsed by httptools (the parser under uvicorn). The standard
library's ``http.client``, used before, spent about 0.1 ms more CPU a request (its header
parsing goes through the ``email`` package), which a burst of a thousand runs pays on one
core; see docs/design.md, "The http type's client".
"""

from __future__ import annotations

import json
import math
import re
import select
import socket
import ssl
import string
import struct
import zlib
from collections import deque
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httptools
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
        try:
            _ = parts.port  # out of range or not a number: ValueError
        except ValueError as exc:
            raise ValidationError(f"Bad port: {exc}.") from exc

    @validates("headers")
    def _check_headers(self, value: dict[str, str], **_: Any) -> None:
        problems = [p for p in (header_problem(k, v) for k, v in value.items()) if p]
        if problems:
            raise ValidationError(problems)

    @validates_schema
    def _one_body(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("json") is not None and data.get("body") is not None:
            raise ValidationError("Give either json or body, not both.", "body")


class RequestFailed(Exception):
    """The request could not be made or its answer not read (connect, TLS, protocol).

    ``tail`` holds what of the body was read before it failed.
    """

    def __init__(self, message: str, tail: OutputTail | None = None) -> None:
        super().__init__(message)
        self.tail = tail if tail is not None else OutputTail()

    def as_result(self, what: str) -> RunResult:
        """The failed run's result: ``what`` failed, with the body read before it."""
        return RunResult(
            ok=False,
            output=self.tail.text() or None,
            output_truncated=self.tail.truncated,
            error=f"{what} failed: {self}",
        )


class _Connection:
    """A socket to one (scheme, host, port), kept alive between runs.

    Plain TCP sockets block, and the kernel bounds each read and write
    (SO_RCVTIMEO/SO_SNDTIMEO, see :func:`_bound`): a socket with a Python timeout polls
    before every send and receive, a system call more each time, and the GIL changes hands
    for each (a burst's 20 run threads queue for it). TLS sockets keep Python's timeout (a
    kernel timeout there would surface as an SSL error).
    """

    __slots__ = ("limit", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.limit: float | None = None  # the kernel timeout set on a plain socket

    def close(self) -> None:
        self.sock.close()


class _ConnectionPool:
    """Idle keep-alive connections per (scheme, host, port), shared by the run threads."""

    def __init__(self, per_host: int = 20) -> None:
        self.per_host = per_host
        # deque's append and pop are atomic: no lock for 20 threads to queue on.
        self._idle: dict[tuple[str, str, int], deque[_Connection]] = {}
        self._tls: ssl.SSLContext | None = None

    def take(self, scheme: str, host: str, port: int, timeout: float) -> tuple[_Connection, bool]:
        """A connection bounded by ``timeout``, and whether it was kept from an earlier run."""
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
                return connection, True
            connection.close()
        return self.open(scheme, host, port, timeout), False

    def open(self, scheme: str, host: str, port: int, timeout: float) -> _Connection:
        sock = socket.create_connection((host, port), timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if scheme == "https":
                if self._tls is None:
                    self._tls = ssl.create_default_context()
                sock = self._tls.wrap_socket(sock, server_hostname=host)
                return _Connection(sock)
            sock.settimeout(None)
        except BaseException:
            sock.close()
            raise
        connection = _Connection(sock)
        _bound(connection, timeout)
        return connection

    def give_back(self, scheme: str, host: str, port: int, connection: _Connection) -> None:
        idle = self._idle.setdefault((scheme, host, port), deque())
        if len(idle) < self.per_host:
            idle.append(connection)
        else:
            connection.close()


def _still_open(connection: _Connection) -> bool:
    """An idle connection the server has not closed (nothing to read on it yet)."""
    sock = connection.sock
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


def _bound(connection: _Connection, timeout: float) -> None:
    """Bound each socket operation of ``connection`` by ``timeout`` seconds or a little more.

    Never less, so that the runner, not the socket, decides when a run has timed out.
    Kept when within a second over, as it is for the runs of one job: setting it is two
    system calls.
    """
    sock = connection.sock
    if isinstance(sock, ssl.SSLSocket):
        current = sock.gettimeout()
        if current is None or not timeout - 1.0 <= current <= timeout + 0.05:
            sock.settimeout(timeout)
        return
    if connection.limit is not None and timeout <= connection.limit <= timeout + 1.0:
        return
    # Rounded up to the microsecond, carried into the seconds (tv_usec must stay < 10**6).
    seconds, micros = divmod(math.ceil(timeout * 1_000_000), 1_000_000)
    value = struct.pack("@ll", seconds, micros)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)
    connection.limit = timeout


_pool = _ConnectionPool()

# A header name is a token (RFC 9110, 5.1); a value may not break the line.
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_VALUE_BREAK = re.compile(r"[\r\n\x00]")
_PLAIN_TARGET = re.compile(r"[!-~]+")  # printable ASCII, no space
# Set from the body by the client: the message's framing is not the job's to choose.
_FRAMING_HEADERS = ("content-length", "transfer-encoding")
_HEAD_LIMIT = 256 * 1024  # bytes of status line and headers read before giving up


def header_problem(name: str, value: str) -> str | None:
    """Why a request header cannot be sent as given, or None."""
    if not _HEADER_NAME.fullmatch(name):
        return f"Header name {name!r} is not a valid HTTP token."
    if name.lower() in _FRAMING_HEADERS:
        return f"Header {name} is set from the body."
    if _HEADER_VALUE_BREAK.search(value):
        return f"Header {name} has a line break or NUL in its value."
    return None


def _request_head(
    method: str,
    target: str,
    host_header: str,
    headers: Mapping[str, str],
    body: bytes | None,
) -> bytes:
    """The request line and headers, as the standard library's http.client wrote them:
    Host and ``Accept-Encoding: identity`` unless given, Content-Length from the body."""
    if not _PLAIN_TARGET.fullmatch(target):
        target = quote(target, safe=string.punctuation)  # spaces, controls, non-ASCII
    lines = [f"{method} {target} HTTP/1.1"]
    given = {name.lower() for name in headers}
    if "host" not in given:
        lines.append(f"Host: {host_header}")
    if "accept-encoding" not in given:
        lines.append("Accept-Encoding: identity")
    for name, value in headers.items():
        problem = header_problem(name, value)
        if problem:
            raise RequestFailed(problem)
        lines.append(f"{name}: {value}")
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body or b'')}")
    head = "\r\n".join(lines) + "\r\n\r\n"
    try:
        return head.encode("latin-1")
    except UnicodeEncodeError:
        return head.encode("utf-8")


def _host_header(scheme: str, host: str, port: int) -> str:
    try:
        host.encode("ascii")
    except UnicodeEncodeError:
        host = host.encode("idna").decode("ascii")
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address
    return host if port == (443 if scheme == "https" else 80) else f"{host}:{port}"


class _Response:
    """httptools' callbacks for one response: the status, its body into the tail.

    httptools (llhttp, Node's parser) does the framing: Content-Length, chunked, interim
    1xx answers, and the bodies that 204 and 304 never have. Two cases it leaves to the
    caller: a HEAD answer has no body whatever its headers say, and a body with neither
    length nor chunks ends when the server closes (:meth:`closed`).
    """

    def __init__(self, tail: OutputTail, head_only: bool) -> None:
        self.parser: Any = httptools.HttpResponseParser(self)
        self.tail = tail
        self.head_only = head_only
        self.status = 0
        self.headers_done = False  # of the final answer (not an interim 1xx)
        self.done = False
        self.keep_alive = False
        self._framed = False  # a length or chunks say where the body ends
        self._encoding = b""
        self._decoder: Any = None

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"content-encoding":
            self._encoding = value.strip().lower()
        elif name == b"content-length" or (
            name == b"transfer-encoding" and b"chunked" in value.lower()
        ):
            self._framed = True

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status == 101:  # what follows is another protocol (the parser stops)
            self.status, self.headers_done, self.done = status, True, True
            return
        if 100 <= status < 200:  # interim: the answer follows
            self._framed, self._encoding = False, b""
            return
        self.status, self.headers_done = status, True
        self._decoder = _decoder(self._encoding)
        if self.head_only:
            self.done, self.keep_alive = True, self.parser.should_keep_alive()

    def on_body(self, data: bytes) -> None:
        if not self.done:
            self.tail.feed(self._decoder.decompress(data) if self._decoder else data)

    def on_message_complete(self) -> None:
        if self.headers_done and not self.done:
            self._end()
            self.keep_alive = self.parser.should_keep_alive()

    def on_message_begin(self) -> None:
        if self.done:  # more than one answer came: the connection is out of step
            self.keep_alive = False

    def feed(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            if self.done:  # bytes after the answer, or another protocol after a 101
                self.keep_alive = False
                return
            cause = exc.__context__ if isinstance(exc, httptools.HttpParserCallbackError) else exc
            raise RequestFailed(f"bad response: {cause}", self.tail) from exc

    def closed(self) -> None:
        """The server closed the connection: the end of a body with no length, else an error."""
        if not self.headers_done or self._framed:
            raise RequestFailed(
                "the server closed the connection before its answer ended", self.tail
            )
        self._end()
        self.keep_alive = False

    def _end(self) -> None:
        if self._decoder:
            self.tail.feed(self._decoder.flush())
        self.done = True


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
    itself, so a server trickling bytes cannot hold the run. A kept-alive connection that
    the server closed as the request went out is replaced once by a new one, as curl
    does. Redirects are not followed (the status is the answer). Raises RequestFailed.
    """
    parts = urlsplit(url)
    scheme, host = parts.scheme, parts.hostname or ""
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as exc:
        raise RequestFailed(f"bad URL: {exc}") from exc
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    message = _request_head(method, target, _host_header(scheme, host, port), headers or {}, body)
    if body:
        message += body
    tail = OutputTail()
    connection = None
    try:
        connection, kept = _pool.take(scheme, host, port, max(context.remaining(), 0.001))
        response = _exchange(connection, message, method == "HEAD", tail, context)
        if response is None and kept:  # closed under us before a byte of answer came
            connection.close()
            connection = _pool.open(scheme, host, port, max(context.remaining(), 0.001))
            response = _exchange(connection, message, method == "HEAD", tail, context)
        if response is None:
            raise RequestFailed("the server closed the connection without answering")
        if not response.headers_done:  # the deadline came first
            raise RequestFailed("timed out", tail)
        # Past the deadline, the socket may have given up in the middle of the body.
        reusable = response.done and response.keep_alive and context.remaining() > 0
        if reusable and not context.cancelled.is_set():
            _pool.give_back(scheme, host, port, connection)
            connection = None
        return response.status, tail
    except RequestFailed as exc:
        if context.remaining() <= 0:
            raise RequestFailed(_describe(exc, host, port, True), exc.tail) from exc
        raise RequestFailed(f"{exc} ({host}:{port})", exc.tail) from exc
    except (OSError, zlib.error) as exc:
        timed_out = isinstance(exc, TimeoutError | BlockingIOError) or context.remaining() <= 0
        raise RequestFailed(_describe(exc, host, port, timed_out), tail) from exc
    finally:
        if connection is not None:
            connection.close()


def _exchange(
    connection: _Connection, message: bytes, head_only: bool, tail: OutputTail, context: RunContext
) -> _Response | None:
    """Send the request and read the answer while time is left; None if the server closed
    the connection (or reset it) before a byte of the answer came."""
    sock = connection.sock
    response = _Response(tail, head_only)
    received = 0
    try:
        sock.sendall(message)
        while not response.done:
            data = sock.recv(65536)
            if not data:
                if not received:
                    return None
                response.closed()
                break
            received += len(data)
            response.feed(data)
            if not response.headers_done and received > _HEAD_LIMIT:
                raise RequestFailed("the answer's headers are too large", tail)
            if context.cancelled.is_set() or context.remaining() <= 0:
                break
    except (ConnectionResetError, BrokenPipeError):
        if received:
            raise
        return None
    finally:
        response.parser = None  # it holds the response's callbacks: no cycle for the GC
    return response


def _decoder(encoding: bytes) -> Any:
    """A decompressor for a gzip or deflate body (as urllib3 decoded them), else None."""
    if encoding == b"gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == b"deflate":
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
            return exc.as_result("HTTP request")
        expected = config.get("expected_status")
        ok = status in expected if expected else 200 <= status < 300
        return RunResult(
            ok=ok,
            result={"status_code": status},
            output=tail.text(),
            output_truncated=tail.truncated,
            error=None if ok else f"Unexpected HTTP status {status}.",
        )
