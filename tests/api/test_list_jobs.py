"""GET /api/jobs: a bare array, X-Pagination, filters."""

import json


def test_it_pages_with_an_x_pagination_header(service, make_job):
    made = [make_job(name=f"pager-{i}") for i in range(5)]
    first = service.get("/api/jobs", params={"q": "pager-", "page_size": 2})
    assert first.status_code == 200
    assert isinstance(first.json(), list)
    assert [j["id"] for j in first.json()] == [j["id"] for j in made[:2]]
    pagination = json.loads(first.headers["X-Pagination"])
    assert pagination["total"] == 5
    assert pagination["total_pages"] == 3
    assert pagination["page"] == 1 and pagination["next_page"] == 2
    last = service.get("/api/jobs", params={"q": "pager-", "page_size": 2, "page": 3})
    assert [j["id"] for j in last.json()] == [made[4]["id"]]


def test_every_page_size_pages_through_the_same_list(service, make_job):
    """Pages past the middle are picked walking the order from its end (every order:
    tests/services/test_job_reads.py): each job comes once, in the whole list's order."""
    for i in range(7):
        make_job(name=f"walker-{i}", is_enabled=i != 4)
    whole = [j["id"] for j in service.get("/api/jobs", params={"q": "walker-"}).json()]
    assert len(whole) == 7
    for size in (1, 2, 3, 4, 6, 7):
        paged = []
        for page in range(1, 9):
            params = {"q": "walker-", "page_size": size, "page": page}
            answer = service.get("/api/jobs", params=params)
            assert answer.status_code == 200
            paged += [j["id"] for j in answer.json()]
        assert paged == whole, size


def test_it_filters_by_type_enabled_and_name(service, make_job):
    on = make_job(name="filter-alpha")
    off = make_job(name="filter-beta", is_enabled=False)

    def names(**p):
        return {j["id"] for j in service.get("/api/jobs", params={"q": "filter-", **p}).json()}

    assert names() == {on["id"], off["id"]}
    assert names(is_enabled="false") == {off["id"]}
    assert names(is_enabled="true") == {on["id"]}
    assert names(type="prompt") == set()
    assert names(q="filter-al") == {on["id"]}


def test_a_name_search_treats_wildcards_literally(service, make_job):
    plain = make_job(name="percent-job")
    literal = make_job(name="100%_done")
    found = {j["id"] for j in service.get("/api/jobs", params={"q": "%_"}).json()}
    assert literal["id"] in found and plain["id"] not in found


def test_it_filters_by_last_status(service, make_job, target):
    job = make_job(configuration={"url": target.url("/status/500")})
    assert service.post(f"/api/jobs/{job['id']}/run").status_code == 202
    service.wait_executions(job["id"], 1)
    failed = {j["id"] for j in service.get("/api/jobs", params={"last_status": "failed"}).json()}
    assert job["id"] in failed
    ok = {j["id"] for j in service.get("/api/jobs", params={"last_status": "success"}).json()}
    assert job["id"] not in ok


def test_page_size_is_capped_and_page_zero_is_refused(service):
    assert service.get("/api/jobs", params={"page_size": 1001}).status_code == 422
    response = service.get("/api/jobs", params={"page": 0})
    assert response.status_code == 422
    assert "page" in response.json()["errors"]


def test_deleted_jobs_show_only_when_asked(service, make_job):
    job = make_job(name="deleted-listing")
    assert service.delete(f"/api/jobs/{job['id']}").status_code == 204
    assert job["id"] not in {
        j["id"] for j in service.get("/api/jobs", params={"page_size": 1000}).json()
    }
    listed = service.get(
        "/api/jobs", params={"include_deleted": "true", "q": "deleted-listing"}
    ).json()
    assert [j["id"] for j in listed] == [job["id"]]
    assert listed[0]["deleted_at"] is not None and listed[0]["next_run_at"] is None
