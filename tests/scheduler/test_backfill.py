"""Backfill: one run per fire of a past range, in time order, one at a time (each run's
X-Cronwell-Scheduled-At shows which fire it stands for), with progress, refusals that
name their field, cancelling, and cronwell backfill --wait."""

import datetime as dt
import itertools

from tests.support import wait_for
from tests.support.cli import cronwell

UTC = dt.UTC


def _job(service, target, job_id: str, path: str, schedule: str = "0 * * * *") -> None:
    made = service.post("/api/jobs", json={
        "id": job_id, "name": job_id, "type": "http", "schedule": schedule,
        "configuration": {"url": target.url(path)}})  # fmt: skip
    assert made.status_code == 201, made.text


def _hour(hours_ago: int) -> dt.datetime:
    now = dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return now - dt.timedelta(hours=hours_ago)


def test_a_backfill_runs_each_fire_in_order_one_at_a_time(service, target):
    _job(service, target, "hourly", "/slow/0.4?backfill=hourly")
    start, end = _hour(5), _hour(1)
    answer = service.post("/api/jobs/hourly/backfill",
                          json={"start": start.isoformat(), "end": end.isoformat()})  # fmt: skip
    assert answer.status_code == 202, answer.text
    started = answer.json()
    assert started["runs"] == 5
    assert dt.datetime.fromisoformat(started["first"]) == start
    assert dt.datetime.fromisoformat(started["last"]) == end
    backfill = wait_for(
        lambda: (b := service.get("/api/jobs/hourly/backfills").json()[0])["state"] == "done"
        and b, timeout=30)  # fmt: skip
    assert (backfill["runs"], backfill["done"], backfill["succeeded"]) == (5, 5, 5)
    hits = sorted(target.hits_for("backfill=hourly"), key=lambda h: h["at"])
    told = [dt.datetime.fromisoformat(h["headers"]["X-Cronwell-Scheduled-At"]) for h in hits]
    assert told == [start + dt.timedelta(hours=i) for i in range(5)], "in time order"
    gaps = [later["at"] - earlier["at"] for earlier, later in itertools.pairwise(hits)]
    assert min(gaps) >= 0.4, "each run starts after the one before it ended (0.4 s each)"
    runs = service.executions("hourly", trigger="backfill")
    assert len(runs) == 5 and {r["status"] for r in runs} == {"success"}
    assert sorted(dt.datetime.fromisoformat(r["scheduled_at"]) for r in runs) == told


def test_refusals_name_the_field(service, target):
    _job(service, target, "daily", "/ok", schedule="0 3 * * *")
    now = dt.datetime.now(UTC)
    for body, field in (
        ({"start": (now - dt.timedelta(days=2)).isoformat(),
          "end": (now + dt.timedelta(days=1)).isoformat()}, "end"),
        ({"start": (now - dt.timedelta(days=1)).isoformat(),
          "end": (now - dt.timedelta(days=2)).isoformat()}, "end"),
        ({"start": (now - dt.timedelta(hours=3, minutes=1)).isoformat(),
          "end": (now - dt.timedelta(hours=3)).isoformat()}, "start"),
        ({"start": (now - dt.timedelta(days=30)).isoformat(), "end": now.isoformat(),
          "max_runs": 5}, "max_runs"),
        ({"start": now.isoformat(), "end": now.isoformat(), "max_runs": 1001}, "max_runs"),
        ({"start": "yesterday", "end": now.isoformat()}, "start"),
    ):  # fmt: skip
        refused = service.post("/api/jobs/daily/backfill", json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert field in refused.json()["errors"], (body, refused.json())
    assert service.get("/api/jobs/daily/backfills").json() == []


def test_cancel_stops_a_backfill_and_the_command_line_waits(service, target):
    _job(service, target, "slowly", "/slow/1?backfill=slowly")
    answer = service.post(
        "/api/jobs/slowly/backfill",
        json={"start": _hour(10).isoformat(), "end": _hour(1).isoformat()},
    )
    backfill_id = answer.json()["backfill_id"]
    wait_for(lambda: target.hits_for("backfill=slowly"), timeout=10)
    cancelled = service.post(f"/api/jobs/slowly/backfills/{backfill_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    wait_for(lambda: not service.executions("slowly", status="running"), timeout=10)
    ran = len(target.hits_for("backfill=slowly"))
    assert ran < 10
    assert len(service.executions("slowly", trigger="backfill", status="success")) <= ran

    _job(service, target, "cli-filled", "/ok?backfill=cli")
    done = cronwell(service, "backfill", "cli-filled", "--start", _hour(3).isoformat(),
                    "--end", _hour(1).isoformat(), "--wait")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "3 run(s)" in done.stdout and "done: 3 of 3 succeeded" in done.stdout
    failing = cronwell(service, "backfill", "daily-none", "--start", _hour(3).isoformat(),
                       "--end", _hour(1).isoformat())  # fmt: skip
    assert failing.returncode == 1 and "not found" in failing.stderr
