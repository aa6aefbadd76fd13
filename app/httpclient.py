"""The HTTP client the ``http`` and agent job types and the notifications share: urllib3,
one deadline a call.

urllib3 frames the protocol, keeps connections alive (one pool per host, shared by the
run threads), decodes gzip and deflate bodies, speaks to proxies (CONNECT for https) and
follows redirects when asked. This module adds what a scheduled run needs around it:

* one deadline over the whole call (:class:`Bounds`: a run's context, or a
  :class:`Deadline`): each connect and read is bounded by the time left, every redirect
  hop is checked against it, and a cancel (the runner's timeout or a cancel request)
  shuts the answer's socket so that a body trickling in is not read on;
* the body kept as it arrives (its last 64 KiB), so a run that fails half way through
  still records what came;
* ``CRONWELL_HTTP_ALLOWED_HOSTS`` (the caller passes it) checked on every redirect hop,
  not only the first URL;
* the proxy from the job, else from the standard ``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY``
  variables (read by the standard library, as requests reads them, once a process).
"""

from __future__ import annotations

import functools
import threading
import time
import urllib.request
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import urllib3
from urllib3.exceptions import HTTPError, InsecureRequestWarning, ProtocolError, ReadTimeoutError
from urllib3.util import Retry, Timeout

from app.outputs import OutputTail
from app.version import __version__

USER_AGENT = f"cronwell/{__version__}"
#: Connections kept per host (the runner starts at most MAX_CONCURRENT runs at once).
POOL_SIZE = 20
MAX_REDIRECTS = 10
CHUNK = 64 * 1024

# A job that sets verify_tls false asked for exactly that: no warning per run.
warnings.filterwarnings("ignore", category=InsecureRequestWarning)


class RequestFailed(Exception):
    """The request could not be made or its answer not read (connect, TLS, protocol,
    a refused redirect). ``tail`` holds what of the body was read before it failed."""

    def __init__(self, message: str, tail: OutputTail | None = None) -> None:
        super().__init__(message)
        self.tail = tail if tail is not None else OutputTail()


class Bounds(Protocol):
    """How long a call may take and how to stop it (a run's context is one)."""

    cancelled: threading.Event

    def remaining(self) -> float: ...

    def call_on_cancel(self, callback: Callable[[], None]) -> Callable[[], None]: ...


@dataclass
class Deadline:
    """Bounds of a call nobody cancels: ``seconds`` from now."""

    seconds: float
    cancelled: threading.Event = field(default_factory=threading.Event)
    until: float = field(init=False)

    def __post_init__(self) -> None:
        self.until = time.monotonic() + self.seconds

    def remaining(self) -> float:
        return max(0.0, self.until - time.monotonic())

    def call_on_cancel(self, callback: Callable[[], None]) -> Callable[[], None]:
        return lambda: None


@dataclass(frozen=True)
class Request:
    """One call as a job describes it."""

    url: str
    method: str = "GET"
    headers: Mapping[str, str] | None = None
    body: bytes | None = None
    auth: tuple[str, str] | None = None  # (username, password): basic auth
    proxy: str | None = None  # None: from the environment
    follow_redirects: bool = False
    verify_tls: bool = True


@dataclass(frozen=True)
class Answer:
    status: int
    body: OutputTail
    url: str  # where the answer came from (after redirects)


def host_allowed(url: str, allowed: Sequence[str] | None) -> bool:
    """Whether ``url``'s host is in the allow-list (no list: any host)."""
    if not allowed:
        return True
    host = (urlsplit(url).hostname or "").lower()
    return host in {h.lower() for h in allowed}


class RedirectRefused(HTTPError):
    """A redirect to a host outside CRONWELL_HTTP_ALLOWED_HOSTS, or past the deadline."""


class _Hops(Retry):
    """urllib3's retry policy, told the allow-list and the deadline, which it checks
    before urllib3 follows each redirect.

    One other retry only: an idempotent request (not POST or PATCH) whose connection broke
    before its answer came is sent once more, as a kept-alive connection that the server
    closed just as the request reached it breaks. Never a timeout, never past the
    deadline: a call that failed is the job's retry policy's business, not the client's."""

    allowed_hosts: Sequence[str] | None = None
    context: Bounds | None = None

    def increment(self, method=None, url=None, response=None, error=None, **kwargs) -> Retry:
        out_of_time = self.context is not None and self.context.remaining() <= 0
        if error is not None and (out_of_time or isinstance(error, ReadTimeoutError)):
            raise error  # never a second try past the deadline
        location = response.get_redirect_location() if response is not None else None
        if location:
            target = urljoin(url or "", location)
            if not host_allowed(target, self.allowed_hosts):
                raise RedirectRefused(
                    f"redirect to {target} refused: host not in CRONWELL_HTTP_ALLOWED_HOSTS"
                )
            if self.context is not None and self.context.remaining() <= 0:
                raise RedirectRefused(f"timed out before following the redirect to {target}")
        return super().increment(method, url, response, error, **kwargs)

    def new(self, **kwargs: Any) -> Retry:
        hops = super().new(**kwargs)
        hops.allowed_hosts, hops.context = self.allowed_hosts, self.context
        return hops


class _Managers:
    """One urllib3 pool manager per (proxy, verify_tls): each keeps its connections."""

    def __init__(self) -> None:
        self._managers: dict[tuple[str | None, bool], urllib3.PoolManager] = {}
        self._lock = threading.Lock()

    def get(self, proxy: str | None, verify_tls: bool) -> urllib3.PoolManager:
        key = (proxy, verify_tls)
        manager = self._managers.get(key)
        if manager is None:
            with self._lock:
                manager = self._managers.get(key) or self._make(proxy, verify_tls)
                self._managers[key] = manager
        return manager

    @staticmethod
    def _make(proxy: str | None, verify_tls: bool) -> urllib3.PoolManager:
        options: dict[str, Any] = {"maxsize": POOL_SIZE, "num_pools": 100}
        if not verify_tls:
            options.update(cert_reqs="CERT_NONE", assert_hostname=False)
        if proxy is None:
            return urllib3.PoolManager(**options)
        parts = urlsplit(proxy)
        if parts.username is not None:
            credentials = f"{parts.username}:{parts.password or ''}"
            options["proxy_headers"] = urllib3.make_headers(proxy_basic_auth=credentials)
        return urllib3.ProxyManager(proxy, **options)


_managers = _Managers()


def proxy_for(url: str, configured: str | None) -> str | None:
    """The proxy to reach ``url`` through: the job's, else the environment's (None: direct)."""
    if configured:
        return configured
    parts = urlsplit(url)
    return _environment_proxy(parts.scheme, parts.netloc)


@functools.lru_cache(maxsize=4096)
def _environment_proxy(scheme: str, netloc: str) -> str | None:
    """HTTP(S)_PROXY for ``scheme`` unless NO_PROXY names ``netloc``. The environment is
    read once a process: scanning it took 0.2 ms a call, more than the rest of a GET."""
    proxies = _environment_proxies()
    if urllib.request.proxy_bypass_environment(netloc, proxies):
        return None
    return proxies.get(scheme)


@functools.cache
def _environment_proxies() -> dict[str, str]:
    return urllib.request.getproxies_environment()


def perform_request(
    context: Bounds, request: Request, allowed: Sequence[str] | None = None
) -> Answer:
    """Make one call within ``context``'s deadline, to hosts in ``allowed`` (None: any);
    the status and the body's tail.

    Raises :class:`RequestFailed` (with the body read so far) when no whole answer came.
    """
    if not host_allowed(request.url, allowed):
        # The allow-list may have changed since the job was saved.
        raise RequestFailed("host not in CRONWELL_HTTP_ALLOWED_HOSTS")
    headers = {"User-Agent": USER_AGENT, **(request.headers or {})}
    if request.auth is not None:
        basic = urllib3.make_headers(basic_auth="{}:{}".format(*request.auth))
        headers["Authorization"] = basic["authorization"]
    hops = _Hops(
        total=None,
        connect=0,
        read=1,
        status=0,
        other=0,
        redirect=MAX_REDIRECTS if request.follow_redirects else 0,
        raise_on_redirect=False,
    )
    hops.allowed_hosts, hops.context = allowed, context
    manager = _managers.get(proxy_for(request.url, request.proxy), request.verify_tls)
    left = max(context.remaining(), 0.001)
    tail = OutputTail()
    try:
        response = manager.request(
            request.method,
            request.url,
            body=request.body,
            headers=headers,
            retries=hops,
            redirect=request.follow_redirects,
            timeout=Timeout(connect=left, read=left),
            preload_content=False,
        )
    except (HTTPError, OSError, ValueError) as exc:
        raise RequestFailed(_describe(exc, context)) from exc
    stop_on_cancel = context.call_on_cancel(response.shutdown)
    complete = False
    try:
        # read1: what has come, at once (a body cut short keeps what came before it).
        while chunk := response.read1(CHUNK):
            tail.feed(chunk)
            if context.cancelled.is_set():
                raise RequestFailed(_describe(None, context), tail)
        complete = True
        history = response.retries.history if response.retries is not None else ()
        # The last redirect followed (a read retried after it leaves an entry without one).
        redirects = [hop.redirect_location for hop in history if hop.redirect_location]
        return Answer(response.status, tail, redirects[-1] if redirects else request.url)
    except (HTTPError, OSError, ValueError) as exc:
        raise RequestFailed(_describe(exc, context), tail) from exc
    finally:
        stop_on_cancel()
        if not complete:  # the rest of the body would be read as the next answer
            response.close()
        response.release_conn()


def _describe(exc: BaseException | None, context: Bounds) -> str:
    exc = getattr(exc, "reason", None) or exc  # MaxRetryError wraps the cause
    if context.remaining() <= 0 or isinstance(exc, ReadTimeoutError):
        return "timed out"
    if context.cancelled.is_set() or exc is None:
        return "stopped: the run was cancelled"
    if isinstance(exc, ProtocolError) and len(exc.args) == 2:
        what, cause = exc.args
        detail = f"{type(cause).__name__}: {cause}"
        return what if str(cause) in what else f"{what} ({detail})"
    return str(exc) or type(exc).__name__
