"""Every error is the contract's JSON shape, naming the field and the reason."""

import pytest
import requests

VALID = {
    "name": "x",
    "type": "http",
    "configuration": {"url": "http://127.0.0.1:9/"},
    "schedule": "1h",
}


def assert_error_shape(response, code):
    assert response.status_code == code, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code and body["status"] and body["message"]
    assert "Traceback" not in response.text
    return body


def test_an_unknown_path_is_a_json_404(service):
    assert_error_shape(service.get("/api/nothing-here"), 404)


def test_a_wrong_method_is_a_json_405_with_allow(service):
    response = service.delete("/api/scheduler")
    assert_error_shape(response, 405)
    assert "GET" in response.headers["Allow"]


def test_invalid_json_is_a_400(service):
    body = assert_error_shape(
        service.post("/api/jobs", data="{bad", headers={"Content-Type": "application/json"}), 400
    )
    assert body["errors"] == {"_body": ["Invalid JSON body."]}


def test_a_non_json_body_is_a_415(service):
    body = assert_error_shape(
        service.post("/api/jobs", data="name=x", headers={"Content-Type": "text/plain"}), 415
    )
    assert "Content-Type" in body["errors"]


def test_a_body_over_the_limit_is_a_413(service):
    # Its own connection: the server closes it rather than read the oversized body.
    response = requests.post(
        service.base_url + "/api/jobs",
        data="x" * (1024 * 1024 + 10),
        headers={"Content-Type": "application/json", "Connection": "close"},
        timeout=15,
    )
    body = assert_error_shape(response, 413)
    assert "1048576" in body["message"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"bogus": 1}, "bogus"),
        ({"nmae": "typo"}, "nmae"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"description": "x" * 2001}, "description"),
        ({"max_duration_seconds": "5"}, "max_duration_seconds"),
        ({"max_duration_seconds": 0}, "max_duration_seconds"),
        ({"max_duration_seconds": 86401}, "max_duration_seconds"),
        ({"retry_count": 11}, "retry_count"),
        ({"is_enabled": "yes"}, "is_enabled"),
        ({"overlap_policy": "queue"}, "overlap_policy"),
        ({"id": "a/b"}, "id"),
        ({"id": ".."}, "id"),
        ({"id": "has space"}, "id"),
        ({"id": "x" * 101}, "id"),
        ({"schedule": "* * * *"}, "schedule"),
        ({"schedule": "0m"}, "schedule"),
        ({"schedule": "2020-01-01T00:00:00+00:00"}, "schedule"),
        ({"timezone": "Not/AZone"}, "timezone"),
        ({"configuration": "a string"}, "configuration"),
        ({"configuration": {"url": "file:///etc/passwd"}}, "configuration.url"),
        ({"configuration": {"url": "http://x/", "method": "BREW"}}, "configuration.method"),
    ],
)
def test_bad_fields_are_named_and_nothing_is_stored(service, change, field):
    body = {**VALID, "id": "bad-input-probe", **change}
    error = assert_error_shape(service.post("/api/jobs", json=body), 422)
    assert field in error["errors"], error
    assert error["errors"][field][0]
    assert service.get("/api/jobs/bad-input-probe").status_code == 404


def test_a_json_array_body_is_refused(service):
    error = assert_error_shape(service.post("/api/jobs", json=[VALID]), 422)
    assert "_body" in error["errors"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"schedule": "* * * * * * *"}, "schedule"),
        ({"schedule": "0m"}, "schedule"),
        (
            {"schedule_type": "once", "schedule_config": {"run_at": "2001-01-01T00:00:00Z"}},
            "schedule",
        ),
        ({"schedule_config": {"expression": "61 * * * *"}}, "schedule"),
        ({"schedule_config": {"every": "5m"}}, "schedule_config"),
        ({"timezone": "Europe/Atlantis"}, "timezone"),
        ({"type": "nope"}, "type"),
        ({"configuration": {"url": "http://x/", "extra": 1}}, "configuration.extra"),
        ({"name": ""}, "name"),
        ({"retry_delay_seconds": 0}, "retry_delay_seconds"),
        ({"misfire_grace_seconds": -1}, "misfire_grace_seconds"),
        ({"is_enabled": None}, "is_enabled"),
        ({"id": "renamed"}, "id"),
        ({"naem": "typo"}, "naem"),
    ],
)
def test_bad_updates_are_named_and_the_job_is_unchanged(service, change, field):
    job_id = "update-probe"
    if service.get(f"/api/jobs/{job_id}").status_code == 404:
        service.post("/api/jobs", json={**VALID, "id": job_id, "schedule": "0 2 * * *"})
    before = service.get(f"/api/jobs/{job_id}").json()
    error = assert_error_shape(service.patch(f"/api/jobs/{job_id}", json=change), 422)
    assert field in error["errors"], error
    assert service.get(f"/api/jobs/{job_id}").json() == before


@pytest.mark.parametrize(
    "name",
    [
        "Robert'); DROP TABLE jobs;--",
        "1 OR 1=1",
        "Zeitplan für Müller ☃",
        "日次バックアップ",
        "%_\\",
    ],
)
def test_sql_looking_and_unicode_names_are_stored_verbatim(service, name):
    created = service.post("/api/jobs", json={**VALID, "name": name})
    assert created.status_code == 201, created.text
    assert service.get(f"/api/jobs/{created.json()['id']}").json()["name"] == name
    found = service.get("/api/jobs", params={"q": name}).json()
    assert created.json()["id"] in {j["id"] for j in found}


def test_a_unicode_id_is_refused(service):
    error = assert_error_shape(service.post("/api/jobs", json={**VALID, "id": "zeitplan-für"}), 422)
    assert "id" in error["errors"]


def test_huge_strings_are_refused_by_field(service):
    error = assert_error_shape(
        service.post("/api/jobs", json={**VALID, "name": "n" * 100_000}), 422
    )
    assert list(error["errors"]) == ["name"]
    error = assert_error_shape(
        service.post(
            "/api/jobs", json={**VALID, "configuration": {"url": "http://x/" + "a" * 5000}}
        ),
        422,
    )
    assert "configuration.url" in error["errors"]


def test_the_database_away_or_busy_is_told_from_a_wrong_statement(tmp_path):
    """503 (try again) for a database that is away or busy, 500 for a bug: the errors here
    are the drivers' own, from a real file and a real refused connection."""
    import socket
    import sqlite3

    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import DBAPIError

    from app.db import database_unavailable

    def error_of(engine, sql: str) -> DBAPIError:
        with pytest.raises(DBAPIError) as raised, engine.begin() as connection:
            connection.execute(text(sql))
        return raised.value

    path = tmp_path / "busy.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x INTEGER UNIQUE)")
    holder.execute("BEGIN EXCLUSIVE")
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    assert database_unavailable(error_of(engine, "INSERT INTO t VALUES (1)"))  # locked
    holder.execute("ROLLBACK")
    assert not database_unavailable(error_of(engine, "SELECT * FROM no_such_table"))
    assert not database_unavailable(error_of(engine, "INSERT INTO t VALUES (1), (1)"))
    assert not database_unavailable(ValueError("not the database's"))
    holder.close()
    engine.dispose()
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    away = create_engine(f"postgresql+psycopg://cronwell@127.0.0.1:{port}/cronwell")
    with pytest.raises(DBAPIError) as refused:
        away.connect()
    assert database_unavailable(refused.value)
    away.dispose()
