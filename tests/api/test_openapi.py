"""GET /api/openapi.json serves the contract; GET /docs is the interactive page."""

CONTRACT = {
    "/api/jobs": {"get", "post"},
    "/api/jobs/{job_id}": {"get", "put", "patch", "delete"},
    "/api/jobs/{job_id}/restore": {"post"},
    "/api/jobs/{job_id}/run": {"post"},
    "/api/jobs/{job_id}/enable": {"post"},
    "/api/jobs/{job_id}/disable": {"post"},
    "/api/jobs/{job_id}/executions": {"get"},
    "/api/jobs/{job_id}/executions/{execution_id}": {"get"},
    "/api/jobs/{job_id}/executions/{execution_id}/cancel": {"post"},
    "/api/job-types": {"get"},
    "/api/scheduler": {"get"},
    "/api/workers": {"get"},
    "/api/schedules/preview": {"post"},
    "/healthz": {"get"},
}


def test_the_spec_has_every_contract_operation(service):
    spec = service.get("/api/openapi.json").json()
    for path, methods in CONTRACT.items():
        assert path in spec["paths"], path
        assert methods <= set(spec["paths"][path]), (path, set(spec["paths"][path]))


def test_the_spec_documents_status_codes_and_fields(service):
    spec = service.get("/api/openapi.json").json()
    paths = spec["paths"]
    assert {"201", "409", "422"} <= set(paths["/api/jobs"]["post"]["responses"])
    assert {"202", "200", "404", "409"} <= set(paths["/api/jobs/{job_id}/run"]["post"]["responses"])
    assert "204" in paths["/api/jobs/{job_id}"]["delete"]["responses"]
    assert "X-Pagination" in paths["/api/jobs"]["get"]["responses"]["200"]["headers"]
    job = spec["components"]["schemas"]["Job"]["properties"]
    for field in (
        "next_run_at", "last_status", "schedule_description", "run_count", "fail_count",
        "run_on", "concurrency_group",
    ):  # fmt: skip
        assert field in job
    assert "worker" in spec["components"]["schemas"]["Execution"]["properties"]
    worker = spec["components"]["schemas"]["Worker"]["properties"]
    assert {"id", "host", "pid", "labels", "capacity", "running", "started_at", "heartbeat_at",
            "leader", "state"} <= set(worker)  # fmt: skip
    assert worker["state"]["enum"] == ["alive", "lost"]
    params = {p["name"] for p in paths["/api/jobs"]["get"]["parameters"]}
    assert {
        "page",
        "page_size",
        "type",
        "is_enabled",
        "last_status",
        "q",
        "include_deleted",
    } <= params
    run_params = {p["name"] for p in paths["/api/jobs/{job_id}/run"]["post"]["parameters"]}
    assert "Idempotency-Key" in run_params


def test_docs_page_is_served(service):
    response = service.get("/docs")
    assert response.status_code == 200
    assert "swagger" in response.text.lower()


def test_the_spec_names_both_ways_in_even_while_the_service_is_open(service):
    # Open now, it closes with the first key or user: the spec says what it will ask.
    spec = service.get("/api/openapi.json").json()
    assert spec["security"] == [{"bearerAuth": []}, {"sessionCookie": []}]
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    assert schemes["sessionCookie"] == {
        "type": "apiKey", "in": "cookie", "name": "cronwell",
        "description": schemes["sessionCookie"]["description"],
    }  # fmt: skip


def test_pages_are_bounded_in_the_spec_and_beyond_it_refused(service):
    spec = service.get("/api/openapi.json").json()
    for path in ("/api/jobs", "/api/jobs/{job_id}/executions"):
        params = {p["name"]: p["schema"] for p in spec["paths"][path]["get"]["parameters"]}
        assert params["page"]["maximum"] == 1_000_000, path
        assert params["page_size"]["maximum"] == 1000, path
    for query in ("page=121645100408832000", "page=0", "page_size=1001", "page_size=0"):
        response = service.get(f"/api/jobs?{query}")
        assert response.status_code == 422, response.text
        assert query.split("=")[0] in response.json()["errors"], response.text


def test_an_execution_id_beyond_any_row_is_a_404(service, make_job):
    job = make_job()
    for execution_id in (2**63, 10**30):
        response = service.get(f"/api/jobs/{job['id']}/executions/{execution_id}")
        assert response.status_code == 404, response.text
        assert str(execution_id) in response.json()["message"]
