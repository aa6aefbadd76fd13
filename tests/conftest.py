"""Fixtures: the real service under gunicorn on a temp SQLite file, and a local HTTP target.

Nothing of ours is mocked. ``service`` is one gunicorn process per test module (tests use
their own job ids, so they share it); tests that kill or restart the service start their
own with ``start_service``. ``target`` is an HTTP server on 127.0.0.1 that records every
request it gets (path, arrival time, body) and answers by path:

* ``/ok``: 200 with a small body; ``/status/<code>``: that status;
* ``/slow/<seconds>``: waits, then 200; ``/big/<bytes>``: a large body;
* ``/gzip``: a gzip-encoded body; ``/drop``: 200, then closes the connection without
  saying so (as a server whose keep-alive timeout ran out);
* ``/stall/<seconds>``: 200 and the first half of its body, then waits, then the rest;
* ``/redirect?to=<url>``: 302 to that URL.

A request for an absolute URL (``GET http://host/path``, as a client sends to a proxy) is
recorded with that URL as its path and answered 200: the target doubles as a proxy.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")


class Service:
    """A Cronwell server process: gunicorn with wsgi.py, as `make run` starts it."""

    def __init__(self, workdir: Path, env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.db_path = workdir / "cronwell.db"
        self.log_path = workdir / f"service-{self.port}.log"
        self.env = {
            "PORT": str(self.port),
            "CRONWELL_HOST": "127.0.0.1",
            "CRONWELL_DATABASE_URL": f"sqlite:///{self.db_path}",
            "CRONWELL_SHELL_JOBS_ENABLED": "true",
            "CRONWELL_SHUTDOWN_GRACE_SECONDS": "3",
            "GUNICORN_ACCESSLOG": "",
            "WEB_CONCURRENCY": "1",
            **(env or {}),
        }
        self.proc: subprocess.Popen | None = None
        self.http = requests.Session()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> Service:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CRONWELL_")}
        env.update(self.env)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if wait:
            self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = 20) -> None:
        def healthy() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"service exited:\n{self.log()}")
            try:
                return self.http.get(self.base_url + "/healthz", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        wait_for(healthy, timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def signal(self, sig: int) -> None:
        """Signal the whole gunicorn process group (master and workers)."""
        assert self.proc is not None
        os.killpg(self.proc.pid, sig)

    def kill(self) -> None:
        """kill -9 the master and every worker: no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    def stop(self, timeout: float = 30) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.proc = None
        if getattr(self, "_log", None):
            self._log.close()

    # -- HTTP helpers --------------------------------------------------------------------

    def connection(self) -> Service:
        """The same server through a new HTTP session (a new connection: with several
        gunicorn workers, possibly another worker)."""
        other = Service.__new__(Service)
        other.__dict__.update(self.__dict__)
        other.http = requests.Session()
        return other

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 15)
        return self.http.request(method, self.base_url + path, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def executions(self, job_id: str, **params) -> list[dict]:
        response = self.get(f"/api/jobs/{job_id}/executions", params={"page_size": 1000, **params})
        assert response.status_code == 200, response.text
        return response.json()

    def wait_executions(self, job_id: str, count: int, timeout: float = 15, **params) -> list[dict]:
        """Wait until the job has ``count`` finished executions (matching params)."""

        def enough():
            rows = [
                e
                for e in self.executions(job_id, **params)
                if e["status"] not in ("queued", "running")
            ]
            return rows if len(rows) >= count else None

        return wait_for(enough, timeout, interval=0.1)


class Target:
    """A local HTTP server on 127.0.0.1 that records what it receives."""

    def __init__(self) -> None:
        self.hits: list[dict] = []
        self.lock = threading.Lock()
        target = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else ~40 ms delayed-ACK stalls per response

            def log_message(self, *args) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with target.lock:
                    target.hits.append(
                        {
                            "path": self.path,
                            "method": self.command,
                            "at": time.time(),
                            "body": body.decode(errors="replace"),
                            "headers": dict(self.headers),
                            "client_port": self.client_address[1],
                        }
                    )
                parts = self.path.split("?")[0].strip("/").split("/")
                status, payload = 200, b"hello from target"
                extra_headers = {}
                stall = 0.0
                try:
                    if parts[0] == "status":
                        status = int(parts[1])
                    elif parts[0] == "slow":
                        time.sleep(float(parts[1]))
                    elif parts[0] == "big":
                        payload = b"x" * int(parts[1])
                    elif parts[0] == "gzip":
                        payload = gzip.compress(b"hello, compressed")
                        extra_headers["Content-Encoding"] = "gzip"
                    elif parts[0] == "drop":
                        self.close_connection = True
                    elif parts[0] == "stall":
                        stall, payload = float(parts[1]), b"first half, second half"
                    elif parts[0] == "redirect":
                        status, payload = 302, b""
                        query = parse_qs(urlsplit(self.path).query)
                        extra_headers["Location"] = query["to"][0]
                except (IndexError, KeyError, ValueError):
                    status = 400
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in extra_headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    if stall:
                        self.wfile.write(payload[:11])
                        time.sleep(stall)
                        payload = payload[11:]
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def hits_for(self, marker: str) -> list[dict]:
        with self.lock:
            return [h for h in self.hits if marker in h["path"]]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def target() -> Iterator[Target]:
    server = Target()
    yield server
    server.close()


@pytest.fixture(scope="module")
def start_service(tmp_path_factory) -> Iterator[Callable[..., Service]]:
    """Start services for this module (each with its own database unless ``workdir``)."""
    started: list[Service] = []

    def start(env: dict[str, str] | None = None, workdir: Path | None = None, wait=True):
        service = Service(workdir or tmp_path_factory.mktemp("svc"), env)
        started.append(service)
        return service.start(wait=wait)

    yield start
    for service in started:
        service.stop(timeout=10)


@pytest.fixture(scope="module")
def service(request, start_service) -> Service:
    """One service per test module; a module may set ``SERVICE_ENV = {...}``."""
    return start_service(getattr(request.module, "SERVICE_ENV", None))


@pytest.fixture
def make_job(service, target) -> Callable[..., dict]:
    """Create a job through the API (an http job to the target, every hour, by default)."""

    def make(**fields) -> dict:
        marker = uuid.uuid4().hex[:10]
        body = {
            "id": fields.pop("id", f"job-{marker}"),
            "name": fields.pop("name", f"job {marker}"),
            "type": fields.pop("type", "http"),
            "configuration": fields.pop("configuration", {"url": target.url(f"/ok?job={marker}")}),
            **fields,
        }
        if not any(k in body for k in ("schedule", "schedule_type")):
            body["schedule"] = "1h"
        response = service.post("/api/jobs", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    return make


def dump(value: Any) -> str:
    return json.dumps(value, indent=2, default=str)


class Postgres:
    """A throwaway PostgreSQL server in a temp directory, on a free loopback port."""

    def __init__(self, bindir: Path) -> None:
        import pwd
        import tempfile

        self.bindir = bindir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="cronwell-pg-"))
        self.data = self.root / "data"
        self.prefix: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-U", "cronwell", "--auth=trust", "-E", "UTF8")
        self._run(
            "pg_ctl", "-D", str(self.data), "-w", "-l", str(self.root / "server.log"),
            "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )  # fmt: skip
        self.count = 0

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self.prefix, str(self.bindir / tool), *args],
            check=True,
            capture_output=True,
            cwd=self.root,
        )

    def new_database(self) -> str:
        """A fresh empty database; its SQLAlchemy URL."""
        self.count += 1
        name = f"cronwell_{self.count}"
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "cronwell", name)
        return f"postgresql+psycopg://cronwell@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        import shutil

        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def find_postgres() -> Path | None:
    import glob
    import shutil

    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    bindir = find_postgres()
    if bindir is None:
        message = "PostgreSQL is not installed (make test installs it when run as root)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must run these tests")
        pytest.skip(message)
    server = Postgres(bindir)
    yield server
    server.stop()
