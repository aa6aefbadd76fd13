"""The command line's HTTP client: one urllib3 pool, the service's JSON in and out, and
its error messages turned into :class:`ServiceError` (the command prints them)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import click
import urllib3

from app.version import __version__

TIMEOUT_SECONDS = 30


class ServiceError(click.ClickException):
    """The service refused or failed a request: its message (exit code 1)."""

    exit_code = 1

    def __init__(self, status: int, payload: Any) -> None:
        message = f"HTTP {status}"
        if isinstance(payload, dict) and payload.get("message"):
            message = str(payload["message"])
            errors = payload.get("errors") or {}
            details = [f"  {field}: {' '.join(map(str, msgs))}" for field, msgs in errors.items()]
            if details and not all(line.strip() in message for line in details):
                message = "\n".join([message, *details])
        super().__init__(message)
        self.status = status


class Client:
    """Calls one Cronwell service (``url``), with its API token when one is given."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url.rstrip("/")
        # The service's audit log reads this User-Agent as source "cli".
        self.headers = {"Accept": "application/json", "User-Agent": f"cronwell/{__version__}"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.pool = urllib3.PoolManager(
            timeout=urllib3.Timeout(total=TIMEOUT_SECONDS), retries=False
        )

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, Any] | list[tuple[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        data: bytes | None = None,
    ) -> tuple[int, Any, Any]:
        """(status, JSON answer or None, response headers); ServiceError on 4xx and 5xx.
        ``body`` is sent as JSON; ``data``, bytes sent as they are (a ping's output)."""
        url = self.url + path + (f"?{urlencode(params, doseq=True)}" if params else "")
        all_headers = {**self.headers, **(headers or {})}
        if body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        try:
            response = self.pool.request(method, url, body=data, headers=all_headers)
        except urllib3.exceptions.HTTPError as exc:
            raise click.ClickException(f"Cannot reach the service at {self.url}: {exc}") from None
        payload = None
        if response.data:
            try:
                payload = json.loads(response.data)
            except ValueError:
                payload = None
        if response.status >= 400:
            raise ServiceError(response.status, payload)
        return response.status, payload, response.headers

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params=params or None)[1]

    def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        return self.call("POST", path, body, headers=headers)[1]

    def put(self, path: str, body: Any) -> Any:
        return self.call("PUT", path, body)[1]

    def delete(self, path: str) -> None:
        self.call("DELETE", path)

    def job_or_none(self, job_id: str) -> dict | None:
        """The job, or None when the service has no live job with that id."""
        try:
            return self.get(f"/api/jobs/{job_id}")
        except ServiceError as exc:
            if exc.status == 404:
                return None
            raise

    def all_jobs(self, tags: tuple[str, ...] = (), include_deleted: bool = False) -> list[dict]:
        """Every job (all pages), with all of ``tags``."""
        jobs: list[dict] = []
        for page in range(1, 10_001):
            params: dict[str, Any] = {"page": page, "page_size": 1000}
            if tags:
                params["tag"] = list(tags)
            if include_deleted:
                params["include_deleted"] = "true"
            _, batch, headers = self.call("GET", "/api/jobs", params=params)
            jobs.extend(batch)
            meta = json.loads(headers.get("X-Pagination") or "{}")
            if not meta.get("next_page"):
                break
        return jobs
