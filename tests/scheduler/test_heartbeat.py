"""Heartbeat monitors: every ping form from curl, a fire with a ping and one without, a
start that never ends, the ping URL as an admin's secret, and the limits on pings."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import time
import uuid

import pytest

from tests.support import scrape, wait_for
from tests.support.cli import cronwell

TOKEN = "heartbeat-token-5e1f"
SERVICE_ENV = {
    "CRONWELL_API_TOKEN": TOKEN,
    "CRONWELL_PINGS_PER_MINUTE": "12",
    "GUNICORN_ACCESSLOG": "-",  # access lines name each request's path
}
MASK = "••••••"


@pytest.fixture(autouse=True)
def signed_in(service):
    """API calls carry the token; pings (curl) carry nothing."""
    service.http.headers["Authorization"] = f"Bearer {TOKEN}"


def curl(url: str, *args: str) -> tuple[int, str]:
    """``curl`` as a cron job would run it: (HTTP status, body)."""
    done = subprocess.run(
        ["curl", "-sS", "-m", "10", "-w", "\n%{http_code}", *args, url],
        capture_output=True, text=True, timeout=20, check=True,
    )  # fmt: skip
    body, _, status = done.stdout.rpartition("\n")
    return int(status), body


def make_monitor(service, job_id: str, **fields) -> dict:
    made = service.post("/api/jobs", json={
        "id": job_id, "name": job_id, "type": "heartbeat", "schedule": "1h", **fields})  # fmt: skip
    assert made.status_code == 201, made.text
    job = made.json()
    assert job["ping_url"].startswith(f"{service.base_url}/ping/"), job["ping_url"]
    return job


def newest(service, job_id: str) -> dict:
    return service.executions(job_id)[0]


def test_every_ping_form_from_curl(service, tmp_path):
    url = make_monitor(service, "nightly-backup")["ping_url"]
    assert curl(url) == (200, "OK")
    ran = newest(service, "nightly-backup")
    assert (ran["status"], ran["trigger"], ran["result"], ran["error"]) == (
        "success", "ping", {}, None)  # fmt: skip

    (tmp_path / "out.txt").write_text("disk full\n")
    assert curl(url + "/fail", "--data-binary", f"@{tmp_path / 'out.txt'}") == (200, "OK")
    failed = newest(service, "nightly-backup")
    assert (failed["status"], failed["output"]) == ("failed", "disk full\n")
    assert "failure" in failed["error"]

    assert curl(url + "/start") == (200, "OK")
    started = newest(service, "nightly-backup")
    assert (started["status"], started["trigger"]) == ("running", "ping")
    time.sleep(0.4)
    assert curl(url + "/0", "-d", "all done") == (200, "OK")
    ended = service.get(f"/api/jobs/nightly-backup/executions/{started['id']}").json()
    assert (ended["status"], ended["result"], ended["output"]) == (
        "success", {"exit_code": 0}, "all done")  # fmt: skip
    assert ended["duration_ms"] >= 400, "the duration counts from the start ping"

    assert curl(url + "/3") == (200, "OK")
    coded = newest(service, "nightly-backup")
    assert (coded["status"], coded["result"]) == ("failed", {"exit_code": 3})
    assert "code 3" in coded["error"]

    (tmp_path / "big.txt").write_bytes(b"x" * 70_000 + b"THE END")
    assert curl(url, "--data-binary", f"@{tmp_path / 'big.txt'}") == (200, "OK")
    big = newest(service, "nightly-backup")
    assert big["output_truncated"] is True and big["output"].endswith("THE END")
    assert len(big["output"]) == 64 * 1024

    status, body = curl(url + "/256")
    assert status == 422 and "exit_code" in json.loads(body)["errors"]
    status, body = curl(f"{service.base_url}/ping/{uuid.uuid4()}")
    assert status == 404 and "ping URL" in json.loads(body)["message"]
    status, body = curl(f"{service.base_url}/ping/not-a-uuid")
    assert status == 404 and json.loads(body)["code"] == 404

    key = url.rsplit("/", 1)[1]
    assert '/ping/•••••• HTTP/1.1" 200' in service.log(), "each ping has its access line"
    assert key not in service.log(), "the key, the monitor's secret, is kept out of the log"

    job = service.get("/api/jobs/nightly-backup").json()
    assert (job["success_count"], job["fail_count"], job["last_status"]) == (3, 2, "success")
    totals = {s.labels["status"]: s.value for s in scrape(service, "cronwell_executions_total")
              if s.labels["job_id"] == "nightly-backup"}  # fmt: skip
    assert totals == {"success": 3.0, "failed": 2.0}


def _ts(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def test_a_pinged_fire_succeeds_and_a_fire_with_no_ping_is_missed(service, target):
    marker = uuid.uuid4().hex
    url = make_monitor(service, "hourly-sync", schedule="3s", misfire_grace_seconds=2, notify={
        "on": ["missed"], "urls": [target.url(f"/hook/{marker}")]})["ping_url"]  # fmt: skip
    # The first fire's row waits for a ping (written a moment ahead of its time).
    waiting = wait_for(
        lambda: [e for e in service.executions("hourly-sync") if e["status"] == "queued"],
        timeout=10,
    )[-1]
    fire = _ts(waiting["scheduled_at"])
    time.sleep(max(0.0, (fire - dt.datetime.now(dt.UTC)).total_seconds()))
    assert curl(url) == (200, "OK")
    pinged = service.get(f"/api/jobs/hourly-sync/executions/{waiting['id']}").json()
    assert (pinged["status"], pinged["trigger"]) == ("success", "ping")
    assert pinged["scheduled_at"] == waiting["scheduled_at"], "it stands for its fire"
    # The next fire gets no ping: missed once its grace time has passed.
    missed = wait_for(
        lambda: [e for e in service.executions("hourly-sync") if e["status"] == "missed"],
        timeout=15,
    )[-1]
    assert missed["error"] == "no ping" and missed["trigger"] == "schedule"
    assert _ts(missed["scheduled_at"]) > fire
    [told, *_] = wait_for(lambda: target.hits_for(marker), timeout=10)
    assert json.loads(told["body"])["event"] == "missed"
    service.post("/api/jobs/hourly-sync/disable")


def test_a_start_that_never_ends_is_a_timeout(service, target):
    marker = uuid.uuid4().hex
    url = make_monitor(service, "etl", max_duration_seconds=1, notify={
        "on": ["failure"], "urls": [target.url(f"/hook/{marker}")]})["ping_url"]  # fmt: skip
    assert curl(url + "/start") == (200, "OK")
    run = newest(service, "etl")
    ended = wait_for(
        lambda: (e := service.get(f"/api/jobs/etl/executions/{run['id']}").json())
        and e["status"] != "running" and e, timeout=10,
    )  # fmt: skip
    assert ended["status"] == "timeout" and "max_duration_seconds" in ended["error"]
    assert ended["duration_ms"] >= 1000
    [told] = wait_for(lambda: target.hits_for(marker), timeout=10)
    assert json.loads(told["body"])["event"] == "failure"
    # A started run can be cancelled: nobody else would end it.
    assert curl(url + "/start") == (200, "OK")
    again = newest(service, "etl")
    cancelled = service.post(f"/api/jobs/etl/executions/{again['id']}/cancel").json()
    assert cancelled["status"] == "cancelled"


def test_the_ping_url_is_an_admins_secret_and_can_be_replaced(service):
    job = make_monitor(service, "reports")
    old = job["ping_url"]
    made = service.post("/api/keys", json={"name": "watcher", "role": "viewer"})
    viewer = {"Authorization": f"Bearer {made.json()['secret']}"}
    assert service.get("/api/jobs/reports", headers=viewer).json()["ping_url"] == MASK
    listed = service.get("/api/jobs", headers=viewer, params={"page_size": 1000}).json()
    assert {j["ping_url"] for j in listed if j["type"] == "heartbeat"} == {MASK}
    assert service.post("/api/jobs/reports/ping-url", headers=viewer).status_code == 403
    renewed = service.post("/api/jobs/reports/ping-url")
    assert renewed.status_code == 200, renewed.text
    new = renewed.json()["ping_url"]
    assert new != old and curl(old)[0] == 404 and curl(new) == (200, "OK")
    entry = service.get("/api/audit", params={"action": "job.ping_url"}).json()[0]
    assert entry["target"] == "job:reports" and new.rsplit("/", 1)[1] not in json.dumps(entry)
    # A monitor runs nothing; only monitors have a ping URL.
    assert service.post("/api/jobs/reports/run").status_code == 409
    backfill = service.post("/api/jobs/reports/backfill", json={
        "start": "2026-01-01T00:00:00+00:00", "end": "2026-01-02T00:00:00+00:00"})  # fmt: skip
    assert backfill.status_code == 409 and "heartbeat" in backfill.json()["message"]
    plain = service.post("/api/jobs", json={"id": "plain", "name": "plain", "type": "shell",
                         "schedule": "1h", "configuration": {"command": "true"}})  # fmt: skip
    assert plain.json()["ping_url"] is None
    assert service.post("/api/jobs/plain/ping-url").status_code == 409
    # Made into another type, a monitor's URL stops answering.
    service.patch("/api/jobs/reports", json={"type": "shell", "configuration": {"command": "true"}})
    assert curl(new)[0] == 404


def test_cronwell_ping_sends_each_kind(service, tmp_path):
    url = make_monitor(service, "cli-watched")["ping_url"]
    assert cronwell(service, "ping", url, "--start").stdout == "OK\n"
    (tmp_path / "log").write_text("copied 3 files")
    key = url.rsplit("/", 1)[1]
    done = cronwell(service, "ping", key, "--exit-code", "0", "--output", str(tmp_path / "log"))
    assert done.returncode == 0, done.stderr
    assert cronwell(service, "ping", key, "--fail").returncode == 0
    rows = service.executions("cli-watched")
    assert [(r["status"], r["output"]) for r in rows] == [
        ("failed", None), ("success", "copied 3 files")]  # fmt: skip
    assert rows[1]["result"] == {"exit_code": 0} and rows[1]["duration_ms"] is not None
    unknown = cronwell(service, "ping", str(uuid.uuid4()))
    assert unknown.returncode == 1 and "ping URL" in unknown.stderr


def test_a_monitor_takes_a_limited_number_of_pings_a_minute(service):
    url = make_monitor(service, "chatty")["ping_url"]
    other = make_monitor(service, "quiet")["ping_url"]
    for _ in range(12):
        assert curl(url)[0] == 200
    status, body = curl(url, "-D", "-")
    assert status == 429 and "retry-after:" in body.lower()
    assert "CRONWELL_PINGS_PER_MINUTE" in body
    assert len(service.executions("chatty")) == 12, "a refused ping writes nothing"
    assert curl(other) == (200, "OK"), "the limit is each monitor's"


def test_guessing_ping_urls_gets_429(start_service):
    guessed = start_service({"CRONWELL_AUTH_FAILURES_PER_MINUTE": "3"})
    url = make_monitor(guessed, "guarded")["ping_url"]
    for _ in range(3):
        assert curl(f"{guessed.base_url}/ping/{uuid.uuid4()}")[0] == 404
    status, _ = curl(url)
    assert status == 429, "an address that guesses keys waits, even for a right one"
