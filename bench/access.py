"""The cost of access control: checking the caller's key on a read, and writing the audit
entry (and the revision) of a create or an update, against the last commit before access
control existed, in the same run."""

from __future__ import annotations

import json
import os
import time

from bench.harness import Bench, Figure, pct
from bench.servers import Client

#: The last commit before roles, keys and the audit log: what a change cost without them
#: (BENCH_BEFORE_ACCESS names another).
BEFORE_ACCESS = os.environ.get("BENCH_BEFORE_ACCESS", "191f283")
TOKEN = "bench-token"


def _timed(call) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


class Access(Bench):
    def access(self) -> None:
        samples, writes = self.sizes["access_samples"], self.sizes["access_writes"]
        earlier = self.checkout(BEFORE_ACCESS)
        open_server, _ = self.cronwell("access-open")
        closed, _ = self.cronwell("access-closed", CRONWELL_API_TOKEN=TOKEN)
        before, _ = self.cronwell("access-before", root=earlier)
        try:
            closed.client.headers["Authorization"] = f"Bearer {TOKEN}"
            made = json.loads(closed.client.post("/api/keys", {"name": "b", "role": "admin"}))
            closed.client.headers["Authorization"] = f"Bearer {made['secret']}"
            clients = {"open": open_server.client, "key": closed.client, "before": before.client}
            for client in clients.values():
                self._job(client, "read-me")
                self._latencies(client, ["/api/jobs/read-me"] * 20)  # warm up
            reads: dict[str, list[float]] = {name: [] for name in clients}
            for _ in range(samples):  # interleaved: a slow spell falls on all three
                for name, client in clients.items():
                    reads[name].append(_timed(lambda c=client: c.get("/api/jobs/read-me")))
            creates: dict[str, list[float]] = {"open": [], "before": []}
            updates: dict[str, list[float]] = {"open": [], "before": []}
            for i in range(writes):
                for name in creates:
                    client = clients[name]
                    job_id = f"w-{i}"
                    creates[name].append(_timed(lambda c=client, j=job_id: self._job(c, j)))
                    updates[name].append(
                        _timed(
                            lambda c=client, j=job_id: c.call(
                                "PUT", f"/api/jobs/{j}", {"name": "x"}
                            )
                        )
                    )
        finally:
            for server in (open_server, closed, before):
                server.stop()
        read = {name: pct(values, 50) for name, values in reads.items()}
        cost = read["key"] - read["open"]
        self.figures.append(
            Figure(
                "access-check",
                f"GET one job p50, with a key minus without ({read['key']:.2f} - "
                f"{read['open']:.2f} ms; before access control {read['before']:.2f} ms)",
                "ms",
                cost,
                bar="< 1 ms",
                met=cost < 1,
            )
        )
        for label, timings in (("create", creates), ("update", updates)):
            now, then = pct(timings["open"], 50), pct(timings["before"], 50)
            self.figures.append(
                Figure(
                    f"access-audit-{label}",
                    f"{label} p50 with its audit entry and revision, against {BEFORE_ACCESS} "
                    "(no audit) in the same run",
                    "ms",
                    now,
                    {"before access control": then},
                    "<= 1.2 x before",
                    now <= 1.2 * then,
                )
            )

    @staticmethod
    def _job(client: Client, job_id: str) -> None:
        client.post(
            "/api/jobs",
            {"id": job_id, "name": job_id, "type": "http", "schedule": "1h",
             "configuration": {"url": "http://127.0.0.1:9/"}},
        )  # fmt: skip
