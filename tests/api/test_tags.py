"""Tags: a job's labels, and GET /api/jobs?tag= (repeated: jobs that have all of them)."""

from __future__ import annotations


def _ids(service, **params) -> set[str]:
    response = service.get("/api/jobs", params={"page_size": 1000, **params})
    assert response.status_code == 200, response.text
    return {job["id"] for job in response.json()}


def test_tags_are_kept_once_each_in_order_and_filter_the_list(service, make_job):
    both = make_job(tags=["team:data", "nightly", "team:data"])
    one = make_job(tags=["nightly"])
    none = make_job()
    assert both["tags"] == ["nightly", "team:data"]
    assert none["tags"] == []
    assert service.get(f"/api/jobs/{both['id']}").json()["tags"] == ["nightly", "team:data"]
    nightly = _ids(service, tag="nightly")
    assert {both["id"], one["id"]} <= nightly and none["id"] not in nightly
    assert _ids(service, tag=["nightly", "team:data"]) >= {both["id"]}
    assert one["id"] not in _ids(service, tag=["nightly", "team:data"])
    assert _ids(service, tag="no-such-tag") == set()


def test_an_update_replaces_the_tags_and_leaves_them_when_not_given(service, make_job):
    job = make_job(tags=["a", "b"])
    changed = service.put(f"/api/jobs/{job['id']}", json={"tags": ["c"]}).json()
    assert changed["tags"] == ["c"]
    renamed = service.put(f"/api/jobs/{job['id']}", json={"name": "renamed"}).json()
    assert renamed["tags"] == ["c"]
    assert job["id"] in _ids(service, tag="c") and job["id"] not in _ids(service, tag="a")


def test_bad_tags_are_refused_naming_the_field(service, make_job):
    for tags, field in (
        (["has space"], "tags.0"),
        (["ok", "-leading-dash"], "tags.1"),
        (["x" * 64], "tags.0"),
        ([f"t{i}" for i in range(21)], "tags"),
        ("not-a-list", "tags"),
    ):
        response = service.post(
            "/api/jobs", json={"name": "bad tags", "type": "http", "schedule": "1h",
                               "configuration": {"url": "http://127.0.0.1:9/"}, "tags": tags},
        )  # fmt: skip
        assert response.status_code == 422, tags
        assert field in response.json()["errors"], response.json()
    response = service.get("/api/jobs", params={"tag": "bad tag"})
    assert response.status_code == 422 and "tag.0" in response.json()["errors"]


def test_the_cron_api_keeps_its_own_shape(service, make_job):
    job = make_job(tags=["hidden"], jitter_seconds=5)
    cron = service.get(f"/api/engine/cron/{job['id']}").json()
    for field in ("tags", "on_success", "on_failure", "jitter_seconds"):
        assert field not in cron
