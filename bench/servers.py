"""Run a WSGI app under gunicorn (as `make run` does) and measure it from outside."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httptools
import requests

from bench.peers.tasks import read_answer

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Client:
    """A thin keep-alive HTTP/1.1 client for the measured calls: one send a request, the
    answer parsed by httptools, about 0.05 ms of CPU a call.

    requests spends about 1.2 ms of its own per call on this machine, and the standard
    library's http.client about 0.2 ms (more than a small GET costs a service); timing
    through either would measure the client. Every system is measured through this one.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None

    def call(self, method: str, path: str, body: object = None) -> bytes:
        """Send one request; return the body; raise on a status that is not 2xx."""
        payload = b"" if body is None else json.dumps(body).encode()
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        request = head.encode() + b"\r\n" + payload
        for attempt in range(2):
            try:
                status, data, keep = self._exchange(request)
                break
            except (ConnectionError, httptools.HttpParserError):
                self.close()  # the server dropped an idle connection: once more
                if attempt:
                    raise
        if not keep:
            self.close()
        if not 200 <= status < 300:
            raise RuntimeError(f"{method} {path}: {status} {data[:300]!r}")
        return data

    def _exchange(self, request: bytes) -> tuple[int, bytes, bool]:
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port), 30)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(request)
        answer = read_answer(self.sock)
        return answer.status, bytes(answer.body), answer.keep_alive

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

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
            cwd=ROOT,
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

    def rss_mib(self) -> float:
        """Resident memory of the gunicorn master and its workers, in MiB."""
        pids = [self.proc.pid]
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        if children.exists():
            pids += [int(p) for p in children.read_text().split()]
        total_kib = 0
        for pid in pids:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kib += int(line.split()[1])
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
