"""A bounded schemathesis run against the served OpenAPI spec: no 5xx, responses as documented.

Every operation, positive and negative data, a fixed seed (Hypothesis derandomized, no
example database). The service under test refuses shell jobs and lets http jobs call only
127.0.0.1, so nothing the fuzzer creates can reach beyond this machine.

Driven through schemathesis' Python API rather than its pytest plugin, whose fixture
loader does not support pytest 9.
"""

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

MAX_EXAMPLES = 15
CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzzed(start_service):
    service = start_service(
        {
            "CRONWELL_SHELL_JOBS_ENABLED": "false",
            "CRONWELL_HTTP_ALLOWED_HOSTS": json.dumps(["127.0.0.1"]),
        }
    )
    schema = schemathesis.openapi.from_url(service.base_url + "/api/openapi.json")
    schema.config.update(base_url=service.base_url)
    return service, schema


def _operations(schema):
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_survives_generated_requests(fuzzed, mode):
    service, schema = fuzzed
    operations = _operations(schema)
    assert len(operations) >= 25, "every operation of both APIs is fuzzed"
    failures = []
    for operation in operations:

        @settings(
            max_examples=MAX_EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def exercise(case):
            case.call_and_validate(base_url=service.base_url, checks=CHECKS)

        try:
            exercise()
        except Exception as exc:  # collect every operation's failure, then report all
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
