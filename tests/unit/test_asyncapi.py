"""The AsyncAPI document: generated from the services' brokers, committed under docs/, served
by inference. It must be regenerated whenever a service subscribes or publishes differently."""

from __future__ import annotations

import ast
import importlib
import json
from functools import cache
from typing import Any

import pytest
from fastapi.testclient import TestClient

import schemas
from schemas import CATALOG, DEAD_LETTER
from services.common.settings import REPO_ROOT
from services.inference.app import create
from yieldloop.asyncapi import SERVICES, render

COMMITTED = REPO_ROOT / "docs" / "asyncapi.json"
EVENT_NAMES = {spec.event.__name__ for spec in CATALOG}


@cache
def generated() -> str:
    return render()


def test_the_committed_document_matches_the_code() -> None:
    assert COMMITTED.read_text() == generated(), (
        "run `yieldloop asyncapi-doc` (make docs) to regenerate docs/asyncapi.json"
    )


def test_every_message_has_the_schema_of_its_topics_event() -> None:
    doc: dict[str, Any] = json.loads(generated())
    events = {spec.name: spec.event.__name__ for spec in CATALOG}

    for channel in doc["channels"].values():
        if channel["address"] == DEAD_LETTER:
            continue
        for ref in channel["messages"].values():
            message = doc["components"]["messages"][ref["$ref"].rsplit("/", 1)[-1]]
            wanted = events[channel["address"]]
            assert message["payload"] == {"$ref": f"#/components/schemas/{wanted}"}
            assert wanted in doc["components"]["schemas"]


def test_the_dead_letter_topic_is_listed_with_its_headers_and_raw_bytes() -> None:
    doc: dict[str, Any] = json.loads(generated())

    # Sent to by every service; the gatekeeper also reads it, to tell people of dead letters.
    (channel,) = [
        c
        for c in doc["channels"].values()
        if c["address"] == DEAD_LETTER and "x-error" in c.get("description", "")
    ]
    (ref,) = channel["messages"].values()
    message = doc["components"]["messages"][ref["$ref"].rsplit("/", 1)[-1]]
    payload = doc["components"]["schemas"][message["payload"]["$ref"].rsplit("/", 1)[-1]]

    assert "x-error" in channel["description"] and "x-origin" in channel["description"]
    assert (payload["type"], payload["format"]) == ("string", "binary")
    assert any(
        op["action"] == "send" for op in doc["operations"].values() if DEAD_LETTER in str(op)
    )


def constructed_events(service: str) -> set[str]:
    """Event classes the service's own modules construct."""
    found = set()
    for path in (REPO_ROOT / "services" / service).glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                found.add(node.func.id)
    return found & EVENT_NAMES


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_declares_exactly_the_events_it_constructs(service: str) -> None:
    app = importlib.import_module(f"services.{service}.app")

    declared = {kind.__name__ for kind in app.PRODUCES}

    assert declared == constructed_events(service)
    assert all(getattr(schemas, name) for name in declared)


def test_inference_serves_the_document_beside_its_openapi() -> None:
    client = TestClient(create())  # no lifespan: nothing connects

    document, page = client.get("/asyncapi.json"), client.get("/asyncapi")

    assert document.status_code == 200 and document.json() == json.loads(COMMITTED.read_text())
    assert page.status_code == 200 and "/asyncapi.json" in page.text
    assert "/asyncapi" in client.get("/openapi.json").json()["info"]["description"]
