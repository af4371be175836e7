"""The OpenAPI document is a contract the server keeps: schemathesis reads the running server's
own `/openapi.json`, generates requests for every operation and checks each answer — no 5xx,
only documented status codes and content types, bodies that match their schemas.

It runs over HTTP against a real `archive serve` on a seeded demo data directory, as three
callers with purposes that fit them (a sales rep, a credit manager, a compliance officer).
`make test` runs a short budget; `make fuzz` a longer one (ARCHIVE_FUZZ_EXAMPLES).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.processes import env_with, run, serving
from tests.support import TEST_ENV

pytestmark = pytest.mark.slow

PASSWORD = "fuzz-password-0123"
EXAMPLES = int(os.environ.get("ARCHIVE_FUZZ_EXAMPLES", "4"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
CALLERS = {
    "sales_rep": "sales_followup",
    "credit_manager": "contract_management",
    "compliance_officer": "audit",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("fuzz")
    env = env_with(**TEST_ENV, ARCHIVE_DATA_DIR=str(data / "data"), ARCHIVE_DEMO_PASSWORD=PASSWORD,
                   ARCHIVE_LOG_LEVEL="WARNING")
    env.pop("ARCHIVE_DATABASE_URL", None)
    seeded = run("demo", "--no-serve", env=env, timeout=300)
    assert seeded.returncode == 0, seeded.stderr[-2000:]
    with serving(env, log=Path(data) / "serve.log") as base:
        yield base


@pytest.fixture(scope="module")
def tokens(server: str) -> dict[str, str]:
    out = {}
    for username in CALLERS:
        answer = httpx.post(server + "/api/v1/auth/token", data={"username": username, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        out[username] = answer.json()["access_token"]
    return out


@pytest.fixture(scope="module")
def api_schema(server: str) -> schemathesis.schemas.BaseSchema:
    return schemathesis.openapi.from_url(server + "/openapi.json")


def _fuzz(operation: schemathesis.APIOperation, headers: dict[str, str]) -> str | None:
    """Hypothesis over one operation; the first failure (shrunk) as text, or None."""

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def explore(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    try:
        explore()
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as failure:  # schemathesis reports as an exception group; each is listed below
        return f"{operation.label}: {failure}"
    return None


@pytest.mark.parametrize("username", sorted(CALLERS))
def test_every_operation_keeps_its_documented_contract(api_schema: schemathesis.schemas.BaseSchema,
                                                       tokens: dict[str, str], username: str) -> None:
    headers = {"Authorization": f"Bearer {tokens[username]}", "X-Purpose": CALLERS[username]}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 20
    failures = [failure for operation in operations if (failure := _fuzz(operation, headers))]
    assert not failures, f"{len(failures)} of {len(operations)} operations broke their contract:\n\n" + \
        "\n\n".join(failures)
