"""CRONWELL_API_TOKEN: bearer auth on /api, /healthz open, the token kept out of logs and jobs."""

import logging

from app import create_app
from tests.support import wait_for

TOKEN = "s3cret-token-4c1d"
SERVICE_ENV = {"CRONWELL_API_TOKEN": TOKEN, "GUNICORN_ACCESSLOG": "-"}
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_api_calls_need_the_token(service):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
                    {"Authorization": f"Basic {TOKEN}"}):  # fmt: skip
        response = service.get("/api/jobs", headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["code"] == 401
        assert "Bearer" in response.json()["message"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert service.get("/api/jobs", headers=AUTH).status_code == 200
    assert service.get("/api/jobs", headers={"Authorization": f"bearer {TOKEN}"}).status_code == 200
    assert service.get("/api/engine/cron", headers={}).status_code == 401
    assert service.get("/api/openapi.json").status_code == 401


def test_healthz_stays_open(service):
    assert service.get("/healthz").status_code == 200


def test_the_spec_declares_the_token_and_the_open_healthz(service):
    spec = service.get("/api/openapi.json", headers=AUTH).json()
    assert spec["security"] == [{"bearerAuth": []}, {"sessionCookie": []}]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert spec["paths"]["/healthz"]["get"]["security"] == []


def test_the_token_never_reaches_logs_or_shell_jobs(service):
    created = service.post(
        "/api/jobs",
        headers=AUTH,
        json={
            "id": "env-dump",
            "name": "env",
            "type": "shell",
            "schedule": "1h",
            "configuration": {"command": "env"},
        },
    )
    assert created.status_code == 201
    service.post("/api/jobs/env-dump/run", headers=AUTH)
    row = wait_for(
        lambda: [
            e
            for e in service.get("/api/jobs/env-dump/executions", headers=AUTH).json()
            if e["output"]
        ]
    )[0]
    assert "CRONWELL_JOB_ID=env-dump" in row["output"]
    assert TOKEN not in row["output"] and "CRONWELL_API_TOKEN" not in row["output"]
    service.get("/api/jobs", headers={"Authorization": f"Bearer {TOKEN}x"})
    log = service.log_path.read_text()
    assert "GET /api/jobs" in log, "the access log is on in this test"
    assert TOKEN not in log


def test_an_open_service_warns_and_louder_beyond_loopback(tmp_path, caplog):
    config = {"DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}", "SCHEDULER_AUTOSTART": False}

    def warnings(**settings) -> list[str]:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="cronwell"):
            create_app({**config, **settings})
        return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]

    (loud,) = warnings(HOST="0.0.0.0")
    assert loud.startswith("Binding 0.0.0.0 while open") and "CRONWELL_API_TOKEN" in loud
    (quiet,) = warnings(HOST="127.0.0.1")
    assert quiet.startswith("The service is open")
    assert warnings(HOST="0.0.0.0", API_TOKEN="t") == []


def test_an_unexpected_error_is_a_json_500_without_a_traceback(tmp_path):
    app = create_app(
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'e.db'}", "SCHEDULER_AUTOSTART": False}
    )

    def broken():
        raise RuntimeError("secret internals")

    app.add_url_rule("/api/broken", "broken", broken)
    response = app.test_client().get("/api/broken")
    assert response.status_code == 500
    assert response.json == {
        "code": 500,
        "status": "Internal Server Error",
        "message": "Internal server error; the details are in the service log.",
    }
    assert b"secret internals" not in response.data and b"Traceback" not in response.data


def test_http_jobs_go_only_to_allowed_hosts(start_service, target):
    service = start_service({"CRONWELL_HTTP_ALLOWED_HOSTS": '["127.0.0.1"]'})
    refused = service.post(
        "/api/jobs",
        json={
            "name": "out",
            "type": "http",
            "schedule": "1h",
            "configuration": {"url": "http://example.com/"},
        },
    )
    assert refused.status_code == 422
    assert refused.json()["errors"]["configuration.url"] == [
        "Host is not in CRONWELL_HTTP_ALLOWED_HOSTS."
    ]
    allowed = service.post(
        "/api/jobs",
        json={
            "name": "in",
            "type": "http",
            "schedule": "1h",
            "configuration": {"url": target.url("/ok")},
        },
    )
    assert allowed.status_code == 201
