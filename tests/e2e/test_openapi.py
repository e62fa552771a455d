"""The inference service keeps to its own OpenAPI schema: schemathesis sends what the schema
allows (and what it does not) and checks every answer; no server error, no status, content type
or body the schema does not document."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.schemas import OpenApiSchema

from tests.e2e.conftest import System

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def inference_api(system: System) -> OpenApiSchema:
    return schemathesis.openapi.from_url(f"{system.inference_url}/openapi.json")


schema = schemathesis.pytest.from_fixture("inference_api")


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_inference_api_keeps_to_its_schema(case: schemathesis.Case) -> None:
    case.call_and_validate()
