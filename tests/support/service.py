"""A Cronwell server process: gunicorn with wsgi.py, as `make run` starts it, on its own
SQLite file, with the HTTP calls tests make to it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

from tests.support.waiting import free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent.parent


class PortTaken(AssertionError):
    """The port picked for a service was taken by another server before it bound it."""


class Service:
    """A Cronwell server process: gunicorn with wsgi.py, as `make run` starts it."""

    def __init__(
        self,
        workdir: Path,
        env: dict[str, str] | None = None,
        host: str = "127.0.0.1",
        prefix: list[str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.host = host  # the address it binds and tests call
        self.prefix = prefix or []  # e.g. ip netns exec NAME: run it on another host
        self.port = free_port()
        self.db_path = workdir / "cronwell.db"
        self.log_path = workdir / f"service-{self.port}.log"
        self.env = {
            "PORT": str(self.port),
            "CRONWELL_HOST": host,
            "CRONWELL_DATABASE_URL": f"sqlite:///{self.db_path}",
            "CRONWELL_SHELL_JOBS_ENABLED": "true",
            "CRONWELL_SHUTDOWN_GRACE_SECONDS": "3",
            "GUNICORN_ACCESSLOG": "",
            "WEB_CONCURRENCY": "1",
            **(env or {}),
        }
        self.proc: subprocess.Popen | None = None
        self.http = _session()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, wait: bool = True) -> Service:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CRONWELL_")}
        env.update(self.env)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        command = ["gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"]
        self.proc = subprocess.Popen(
            [*self.prefix, sys.executable, "-m", *command],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if wait:
            try:
                self.wait_healthy()
            except PortTaken:
                # Another test's server took the port picked free before this one bound
                # it: start again on another (twice at most).
                self._port_tries = getattr(self, "_port_tries", 0) + 1
                if self._port_tries > 2:
                    raise
                self.stop(timeout=10)
                self.log_path = self.workdir / f"service-{free_port()}.log"
                self.port = free_port()
                self.env["PORT"] = str(self.port)
                return self.start(wait=wait)
        return self

    def wait_healthy(self, timeout: float = 60) -> None:
        # Generous: on a busy two-core machine, gunicorn's master migrating and then
        # several workers each importing the app has taken over 20 s.
        def healthy() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                if "Address already in use" in self.log():
                    raise PortTaken(f"port {self.port} is another server's")
                raise AssertionError(f"service exited:\n{self.log()}")
            try:
                answer = self.http.get(self.base_url + "/healthz", timeout=1)
            except requests.RequestException:
                return False
            # Cronwell's own answer: a port picked free may have been taken by another
            # test's server before this one bound it (it then exits: see above).
            if answer.status_code == 200 and "scheduler" not in answer.text:
                raise PortTaken(f"port {self.port} answers for another server")
            # And this one's: another test's Cronwell may hold the port while this master
            # retries binding it (gunicorn tries five times), and answer in its place.
            mine = f"Listening at: {self.base_url} " in self.log_path.read_text(errors="replace")
            return answer.status_code == 200 and mine

        try:
            wait_for(healthy, timeout)
        except PortTaken:
            raise
        except AssertionError as error:
            raise AssertionError(f"{error}; the service's log ends:\n{self.log()}") from None

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
        other.http = _session()
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


def _session() -> requests.Session:
    """A session that opens a connection per request: a kept-alive one the server closes
    after its idle timeout (gunicorn's keepalive) can be reset under a request sent on it
    at that moment, a failure of the test, not of the service."""
    session = requests.Session()
    session.headers["Connection"] = "close"
    return session
