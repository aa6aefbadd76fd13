"""Notifications from the real service to a local receiver: one per final outcome, the
contract's body, retried until the receiver takes it, resumed after a crash, never in a
run's way; apprise for the other schemes; validation and masking."""

import json
import time
import uuid

from tests.support import create_http_job, run_and_wait, scrape, seconds_between, wait_for

# Tries after 0.5 s, 1 s, 2 s, ...: a receiver down for a while, in seconds, not minutes.
SERVICE_ENV = {"CRONWELL_NOTIFY_RETRY_SECONDS": "0.5", "CRONWELL_NOTIFY_TIMEOUT_SECONDS": "1"}


def hook(target, marker: str, path: str = "/hook") -> str:
    return target.url(f"{path}/{marker}")


def received(target, marker: str) -> list[dict]:
    return [json.loads(h["body"]) for h in target.hits_for(marker) if h["method"] == "POST"]


def notifications_of(service, job_id: str, execution_id: int) -> list[dict]:
    return service.get(f"/api/jobs/{job_id}/executions/{execution_id}").json()["notifications"]


def test_one_failure_notification_after_the_last_retry_then_a_recovery(service, make_job, target):
    marker = uuid.uuid4().hex
    job = make_job(
        configuration={"url": target.url("/status/500")},
        retry_count=2,
        retry_delay_seconds=1,
        notify={"on": ["failure", "recovery"], "urls": [hook(target, marker)]},
    )
    first = service.post(f"/api/jobs/{job['id']}/run").json()
    attempts = service.wait_executions(job["id"], 3, timeout=15, status="failed")
    wait_for(lambda: received(target, marker), timeout=10)
    time.sleep(1)  # nothing more comes
    [failure] = received(target, marker)
    last = attempts[0]  # newest first
    assert (last["attempt"], last["retry_of"]) == (3, first["id"])
    assert failure["event"] == "failure"
    assert failure["job"] == {"id": job["id"], "name": job["name"], "type": "http"}
    assert failure["execution"]["id"] == last["id"]
    assert (failure["execution"]["status"], failure["execution"]["attempt"]) == ("failed", 3)
    assert set(failure["execution"]) == {
        "id", "status", "trigger", "attempt", "scheduled_at", "started_at", "finished_at",
        "duration_ms", "error",
    }  # fmt: skip
    assert failure["url"] is None  # CRONWELL_PUBLIC_URL is not set
    [entry] = wait_for(
        lambda: [
            n for n in notifications_of(service, job["id"], last["id"]) if n["status"] == "sent"
        ]
    )
    assert entry == {
        "event": "failure", "url": target.url("/hook/****"), "status": "sent", "attempts": 1,
        "error": None, "sent_at": entry["sent_at"],
    }  # fmt: skip
    for attempt in attempts[1:]:  # an attempt followed by a retry tells nobody
        assert notifications_of(service, job["id"], attempt["id"]) == []
    # Fixed: the next success is a recovery (success itself was not chosen).
    service.patch(f"/api/jobs/{job['id']}", json={"configuration": {"url": target.url("/ok")}})
    assert run_and_wait(service, job["id"])["status"] == "success"
    wait_for(lambda: len(received(target, marker)) == 2, timeout=10)
    assert [m["event"] for m in received(target, marker)] == ["failure", "recovery"]
    assert run_and_wait(service, job["id"])["status"] == "success"  # no longer failing
    time.sleep(1)
    assert len(received(target, marker)) == 2


def test_a_receiver_that_is_down_for_a_while_still_gets_its_message(service, make_job, target):
    marker = uuid.uuid4().hex
    up_at = time.time() + 2.5
    job = make_job(
        configuration={"url": target.url("/status/503")},
        notify={"on": ["failure"], "urls": [target.url(f"/down-until/{up_at}/{marker}")]},
    )
    execution = run_and_wait(service, job["id"])
    wait_for(lambda: [h for h in target.hits_for(marker) if h["at"] >= up_at], timeout=15)
    hits = target.hits_for(marker)
    assert len(hits) >= 3 and hits[-1]["at"] >= up_at  # refused, refused, ..., taken
    assert all(h["at"] < up_at for h in hits[:-1])
    [entry] = wait_for(
        lambda: [
            n
            for n in notifications_of(service, job["id"], execution["id"])
            if n["status"] == "sent"
        ]
    )
    assert entry["attempts"] == len(hits)
    assert entry["error"] is None

    # /metrics counts the tries (over the service's life: this module's other tests too).
    # (A snapshot, rendered again within METRICS_REFRESH_SECONDS.)
    def tries() -> dict:
        return {
            s.labels["status"]: s.value for s in scrape(service, "cronwell_notifications_total")
        }

    wait_for(
        lambda: (t := tries())["failed"] >= len(hits) - 1 and t["sent"] >= 1,
        timeout=15,
        interval=0.5,
    )


def test_a_receiver_that_never_answers_holds_no_run_slot(service, make_job, target):
    marker = uuid.uuid4().hex
    hanging = make_job(
        configuration={"url": target.url("/status/500")},
        notify={"on": ["failure"], "urls": [target.url(f"/slow/30/{marker}")]},
    )
    execution = run_and_wait(service, hanging["id"])
    ticking = make_job(schedule="1s")
    started = time.time()
    runs = wait_for(
        lambda: (r := service.executions(ticking["id"], status="success")) and len(r) >= 3 and r,
        timeout=10,
    )
    for run in runs:  # on time while the notification hangs
        assert seconds_between(run["scheduled_at"], run["started_at"]) < 0.5, run
    entry = wait_for(
        lambda: [
            n for n in notifications_of(service, hanging["id"], execution["id"]) if n["error"]
        ],
        timeout=5,
    )[0]
    assert entry["error"] == "timed out" and entry["status"] == "pending"
    assert time.time() - started < 10


def test_pending_notifications_are_sent_after_a_crash_and_missed_fires_notify(
    start_service, target, tmp_path
):
    """The receiver is down when the service is killed (kill -9) with a notification
    pending; after the restart it is sent. Jobs whose notify is null use the service's
    CRONWELL_NOTIFY_URLS; the fires missed while the service was down notify too."""
    marker = uuid.uuid4().hex
    # Down through the service's start (several seconds on a busy machine), the sender
    # process's start, the first try and the kill.
    up_at = time.time() + 25
    env = {
        "CRONWELL_NOTIFY_URLS": json.dumps([target.url(f"/down-until/{up_at}/{marker}")]),
        "CRONWELL_NOTIFY_RETRY_SECONDS": "0.5",
        "CRONWELL_PUBLIC_URL": "https://cron.example.org/",
    }
    service = start_service(env, workdir=tmp_path)
    create_http_job(service, "broken", url=target.url("/status/500"), schedule="1h")
    create_http_job(service, "frequent", target, schedule="1s", misfire_grace_seconds=1)
    execution = run_and_wait(service, "broken")
    # Tried, refused and recorded so: pending, with a try behind it.
    wait_for(lambda: notifications_of(service, "broken", execution["id"])[0]["error"], timeout=20)
    service.kill()
    time.sleep(3)  # "frequent" misses its fires
    service = start_service(env, workdir=tmp_path)

    def by_job_and_event() -> dict:
        # (A run of "frequent" cut short by the kill is interrupted: a failure too.)
        got = {(m["job"]["id"], m["event"]): m for m in received_after(target, marker, up_at)}
        return got if {("broken", "failure"), ("frequent", "missed")} <= set(got) else None

    messages = wait_for(by_job_and_event, timeout=40)
    failure, missed = messages["broken", "failure"], messages["frequent", "missed"]
    assert failure["execution"]["id"] == execution["id"]
    assert failure["url"] == (
        f"https://cron.example.org/ui/jobs/broken/executions/{execution['id']}"
    )
    assert missed["job"]["id"] == "frequent" and missed["execution"]["status"] == "missed"
    entries = wait_for(
        lambda: (e := notifications_of(service, "broken", execution["id"]))[0]["sent_at"] and e
    )
    assert [(e["event"], e["status"]) for e in entries] == [("failure", "sent")], entries
    assert entries[0]["attempts"] >= 2


def received_after(target, marker: str, moment: float) -> list[dict]:
    return [
        json.loads(h["body"])
        for h in target.hits_for(marker)
        if h["method"] == "POST" and h["at"] >= moment
    ]


def test_notify_is_checked_on_save_and_its_secrets_masked(service, make_job, target):
    base = {
        "name": "n",
        "type": "http",
        "schedule": "1h",
        "configuration": {"url": target.url("/ok")},
    }
    for notify, field in (
        ({"urls": ["foo://bar"]}, "notify.urls"),
        ({"urls": ["no-scheme"]}, "notify.urls"),
        ({"urls": [target.url("/h")] * 11}, "notify.urls"),
        ({"on": ["sometimes"], "urls": []}, "notify.on.0"),
        ({"on": ["failure"]}, "notify.urls"),
        ({"urls": [], "extra": 1}, "notify.extra"),
    ):
        answer = service.post("/api/jobs", json={**base, "notify": notify})
        assert answer.status_code == 422, (notify, answer.text)
        assert field in answer.json()["errors"], (notify, answer.json())
    marker = uuid.uuid4().hex
    secret_url = target.url(f"/hook/{marker}?token=abc123").replace("//", "//bot:pw@", 1)
    job = make_job(
        configuration={"url": target.url("/status/500")},
        notify={"urls": [secret_url, "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"]},
    )
    shown = job["notify"]
    assert shown["on"] == ["failure", "recovery", "missed"]
    assert shown["urls"][0] == secret_url  # an admin (an open service's caller) sees them
    # Sent back masked, as a viewer reads them, the job keeps its real URLs.
    masked = target.url("/hook/****?token=****").replace("//", "//bot:****@", 1)
    sent_back = {**shown, "urls": [masked, shown["urls"][1]]}
    assert service.put(f"/api/jobs/{job['id']}", json={"notify": sent_back}).status_code == 200
    assert service.get(f"/api/jobs/{job['id']}").json()["notify"]["urls"][0] == secret_url
    execution = run_and_wait(service, job["id"])
    [hit] = wait_for(lambda: target.hits_for(marker), timeout=10)
    assert hit["path"].endswith("?token=abc123")
    assert hit["headers"]["Authorization"].startswith("Basic ")
    entries = notifications_of(service, job["id"], execution["id"])
    assert "abc123" not in json.dumps(entries) and "TIiajkdnlazkcOXrIdevi7FQ" not in json.dumps(
        entries
    )


def test_test_messages_go_out_and_say_how_it_went(service, target):
    marker = uuid.uuid4().hex
    sent = service.post("/api/notifications/test", json={"url": hook(target, marker)})
    assert sent.status_code == 200, sent.text
    assert sent.json()["delivered"] is True and sent.json()["status_code"] == 200
    [message] = received(target, marker)
    assert message["event"] == "test"
    refused = service.post("/api/notifications/test", json={"url": target.url("/status/500")})
    assert refused.status_code == 502
    assert "HTTP 500" in refused.json()["errors"]["url"][0]
    unknown = service.post("/api/notifications/test", json={"url": "foo://bar"})
    assert unknown.status_code == 422 and "url" in unknown.json()["errors"]
    # Other schemes go through apprise: its json:// posts to a local receiver.
    apprised = hook(target, marker, "/apprise").replace("http://", "json://")
    through = service.post("/api/notifications/test", json={"url": apprised})
    assert through.status_code == 200, through.text
    [posted] = [h for h in target.hits_for(marker) if h["path"].startswith("/apprise")]
    body = json.loads(posted["body"])
    assert body["title"] == "Cronwell: Notification test test message"
    assert "cronwell-test" in body["message"]
