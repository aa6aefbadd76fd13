"""GET /api/jobs/{id}."""


def test_it_returns_the_job_with_its_newest_ten_executions(service, make_job):
    job = make_job()
    for done in range(1, 13):
        assert service.post(f"/api/jobs/{job['id']}/run").status_code == 202
        service.wait_executions(job["id"], done)  # one at a time: overlap policy is skip
    body = service.get(f"/api/jobs/{job['id']}").json()
    recent = body["recent_executions"]
    assert len(recent) == 10
    ids = [e["id"] for e in recent]
    assert ids == sorted(ids, reverse=True)
    assert body["run_count"] == 12 and body["success_count"] == 12
    assert body["last_status"] == "success"
    assert recent[0]["result"] == {"status_code": 200}


def test_an_unknown_job_is_a_json_404(service):
    response = service.get("/api/jobs/no-such-job")
    assert response.status_code == 404
    assert response.json() == {
        "code": 404,
        "status": "Not Found",
        "message": "Job 'no-such-job' not found.",
    }
