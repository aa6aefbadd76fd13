"""CRONWELL_LOG_FORMAT=json: every line the service writes (gunicorn's too) is one JSON
object, and every line about a run names its job and execution."""

import json

from tests.support import create_http_job, run_and_wait


def test_json_logs_carry_the_job_and_execution_of_each_run(start_service, target, tmp_path):
    service = start_service({"CRONWELL_LOG_FORMAT": "json"}, workdir=tmp_path)
    create_http_job(service, "fine", target, schedule="1h")
    create_http_job(service, "broken", url=target.url("/status/500"), schedule="1h")
    ran = [run_and_wait(service, job_id) for job_id in ("fine", "broken")]
    service.stop()
    text = service.log_path.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert lines and all({"timestamp", "level", "message"} <= set(line) for line in lines)
    assert any(line.get("logger") == "gunicorn.error" for line in lines)  # gunicorn's own
    about_runs = [line for line in lines if "execution_id" in line]
    for execution in ran:
        [line] = [x for x in about_runs if x["execution_id"] == execution["id"]]
        assert line["job_id"] == execution["job_id"]
        assert line["logger"] == "cronwell.runner"
        assert execution["status"] in line["message"]
    assert [x["level"] for x in about_runs] == ["INFO", "WARNING"]


def test_an_unknown_log_format_stops_the_start_with_a_clear_message(start_service, tmp_path):
    service = start_service({"CRONWELL_LOG_FORMAT": "yaml"}, workdir=tmp_path, wait=False)
    service.proc.wait(timeout=20)
    assert service.proc.returncode != 0
    assert "LOG_FORMAT must be one of text, json, not 'yaml'" in service.log_path.read_text()
