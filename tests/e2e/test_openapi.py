"""The inference service keeps to its own OpenAPI schema: schemathesis sends what the schema
allows (and what it does not) and checks every answer; no server error, no status, content type
or body the schema does not document."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import System

pytestmark = pytest.mark.e2e
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def test_the_inference_api_keeps_to_its_schema(system: System, tmp_path: Path) -> None:
    run = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{system.inference_url}/openapi.json",
            "--checks",
            "all",
            # Random bytes are a schema-valid upload but not an image: refusing them is right.
            "--exclude-checks",
            "positive_data_acceptance",
            "--max-examples",
            "40",
            "--seed",
            "7",
            "--request-timeout",
            "30",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,  # its example cache goes there, not into the checkout
    )
    print(run.stdout[-3000:])
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
