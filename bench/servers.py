"""Run a WSGI app under gunicorn (as `make run` does) and measure it from outside."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
import urllib3

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Client:
    """The measuring client: one kept-alive urllib3 connection, no retries.

    requests spends about 1.2 ms of its own per call on this machine; urllib3 alone a
    fraction of that. Every system is measured through this one, so what the client
    costs is the same on both sides.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.pool = urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=1, retries=False)
        #: Sent with every request (an Authorization header, say).
        self.headers: dict[str, str] = {}

    def call(self, method: str, path: str, body: object = None) -> bytes:
        """Send one request; return the body; raise on a status that is not 2xx."""
        headers = dict(self.headers)
        if body is not None:
            headers["Content-Type"] = "application/json"
        payload = None if body is None else json.dumps(body).encode()
        for attempt in range(2):
            try:
                response = self.pool.request(method, path, body=payload, headers=headers)
                break
            except urllib3.exceptions.ProtocolError:
                if attempt:  # the server dropped an idle connection: once more
                    raise
        if not 200 <= response.status < 300:
            raise RuntimeError(f"{method} {path}: {response.status} {response.data[:300]!r}")
        return response.data

    def close(self) -> None:
        self.pool.close()

    def get(self, path: str) -> bytes:
        return self.call("GET", path)

    def post(self, path: str, body: object) -> bytes:
        return self.call("POST", path, body)


class Server:
    def __init__(
        self,
        app: str,
        env: dict[str, str],
        health_path: str,
        workdir: Path,
        config: str = "gunicorn.conf.py",
        root: Path = ROOT,
    ) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.health_path = health_path
        self.http = requests.Session()  # for waiting on health (errors expected)
        self.client = Client(self.port)
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("CRONWELL_")}
        full_env.update({"PORT": str(self.port), "GUNICORN_ACCESSLOG": "", **env})
        self.log = open(workdir / f"server-{self.port}.log", "ab")  # noqa: SIM115
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", config, app],
            cwd=root,
            env=full_env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_healthy(self, timeout: float = 60) -> float:
        """Seconds from process start to the first 200 on the health path."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited ({self.proc.returncode})")
            try:
                if self.http.get(self.base + self.health_path, timeout=1).status_code == 200:
                    return time.monotonic() - self.started
            except requests.RequestException:
                pass
            time.sleep(0.01)
        raise RuntimeError("server did not become healthy")

    def _pids(self) -> list[int]:
        """The gunicorn master and its workers."""
        pids = [self.proc.pid]
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        if children.exists():
            pids += [int(p) for p in children.read_text().split()]
        return pids

    def rss_mib(self) -> float:
        """Resident memory of the gunicorn master and its workers, in MiB."""
        total_kib = 0
        for pid in self._pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kib += int(line.split()[1])
        return total_kib / 1024

    def mapped_mib(self, path: Path) -> float:
        """Of that, the pages of the file at ``path`` mapped in memory (the OS's page
        cache, shared), in MiB."""
        total_kib, inside = 0, False
        for pid in self._pids():
            for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
                fields = line.split()
                if fields and "-" in fields[0] and len(fields) >= 5:  # a mapping's header
                    inside = fields[-1] == str(path)
                elif inside and fields[:1] == ["Rss:"]:
                    total_kib += int(fields[1])
        return total_kib / 1024

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()
