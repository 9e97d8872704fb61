"""Property-based fuzzing of the published OpenAPI spec with schemathesis, in process (ASGI).

Every operation gets a bounded number of generated requests; each response must be no server
error and must match the documented status codes, content types and response schemas.
Two checks are switched off because the spec cannot express the rules they would need:
``positive_data_acceptance`` (completions and references must also have the same length,
and the batch-size limit answers 413) and ``negative_data_rejection`` (unknown JSON keys are
ignored, as OpenRLHF and slime send extra fields).
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings

from himed_rewards.server import create_app

TOKEN = "fuzz-token"
schema = schemathesis.openapi.from_asgi(
    "/openapi.json",
    create_app(token=TOKEN, max_batch=64, request_timeout=30, docs=True),
    headers={"Authorization": f"Bearer {TOKEN}"},
)
EXCLUDED = [
    schemathesis.checks.positive_data_acceptance,
    schemathesis.checks.negative_data_rejection,
]


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_spec(case):
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, excluded_checks=EXCLUDED)


def test_spec_lists_every_endpoint_and_the_bearer_scheme():
    raw = schema.raw_schema
    assert {"/get_reward", "/score", "/v1/score_batch", "/health", "/metrics"} <= set(raw["paths"])
    assert raw["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
