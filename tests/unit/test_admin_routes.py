"""Admin actions behind the token, on inference and on the dashboard: 401 without it or with a
wrong one, 403 when none is configured; reads stay open. With the token, a rollback moves the
aliases once and a review answer becomes a LabelProvided."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from schemas import LabelProvided, ModelRolledBack
from services.common import review_routes
from services.common.registry import CHAMPION, PREVIOUS, InMemoryRegistry, promote
from services.common.review import InMemoryReviewLog
from services.inference import admin_routes
from tests.fakes import Published
from tests.samples import one_of_each

TOKEN = "s3cret-token-for-tests"
ADMIN_ROUTES = {
    ("POST", "/admin/reload"),
    ("POST", "/admin/rollback"),
    ("POST", "/admin/deploy"),
    ("POST", "/review/{item}"),
}


class Replica:
    """What the admin routes read of the inference service."""

    def __init__(self, registry: InMemoryRegistry, published: Published) -> None:
        self.registry, self.publish, self.model_name = registry, published, "inspection"


def registry_with_two_versions() -> InMemoryRegistry:
    registry = InMemoryRegistry()
    for weights in (b"v1", b"v2"):
        mv = registry.register("inspection", weights, arch="cnn_small", classes=("NG", "OK"))
        promote(registry, "inspection", mv.version)
    return registry


def app(
    token: str | None, *, dashboard: bool = False
) -> tuple[FastAPI, InMemoryRegistry, Published]:
    api, registry, published = FastAPI(), registry_with_two_versions(), Published()
    api.include_router(review_routes.router if dashboard else admin_routes.router)
    api.state.admin_token = SecretStr(token) if token is not None else None
    api.state.inference = Replica(registry, published)
    api.state.reviews = InMemoryReviewLog(
        e for e in one_of_each() if e.event_type == "ReviewRequested"
    )
    api.state.publish = published
    return api, registry, published


def admin_routes_of(api: FastAPI) -> set[tuple[str, str]]:
    """Every operation the app's own OpenAPI document says needs the Bearer token."""
    return {
        (method.upper(), path)
        for path, operations in api.openapi()["paths"].items()
        for method, operation in operations.items()
        if any("HTTPBearer" in needed for needed in operation.get("security", []))
    }


def test_every_admin_action_is_behind_the_token() -> None:
    assert admin_routes_of(app(TOKEN)[0]) == ADMIN_ROUTES
    assert admin_routes_of(app(TOKEN, dashboard=True)[0]) == {("POST", "/review/{item}")}


def each_route(dashboard: bool) -> Iterator[tuple[str, str]]:
    yield from sorted(admin_routes_of(app(TOKEN, dashboard=dashboard)[0]))


CASES = [(d, m, p) for d in (False, True) for m, p in each_route(d)]


@pytest.mark.parametrize(("dashboard", "method", "path"), CASES)
def test_without_the_token_or_with_a_wrong_one_it_is_401(
    dashboard: bool, method: str, path: str
) -> None:
    client = TestClient(app(TOKEN, dashboard=dashboard)[0])
    url = path.replace("{item}", "0" * 64)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        response = client.request(method, url, headers=headers, json={})
        assert response.status_code == 401, (headers, response.text)
        assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(("dashboard", "method", "path"), CASES)
def test_with_no_token_configured_it_is_403_even_with_a_token(
    dashboard: bool, method: str, path: str
) -> None:
    for configured in (None, ""):
        client = TestClient(app(configured, dashboard=dashboard)[0])
        url = path.replace("{item}", "0" * 64)
        for headers in ({}, {"Authorization": f"Bearer {TOKEN}"}, {"Authorization": "Bearer "}):
            assert client.request(method, url, headers=headers, json={}).status_code == 403


def test_reads_need_no_token() -> None:
    client = TestClient(app(None)[0])
    queue = client.get("/review").json()
    assert queue["pending"] == 1 and queue["items"][0]["reason"] == "disagreement"


def test_a_rollback_moves_the_champion_back_once_and_tells_every_replica() -> None:
    api, registry, published = app(TOKEN)
    client = TestClient(api)
    auth = {"Authorization": f"Bearer {TOKEN}", "X-Actor": "inspector-7"}

    first = client.post("/admin/rollback", json={"reason": "NG escapes since v2"}, headers=auth)
    assert first.status_code == 200, first.text
    champion = registry.by_alias("inspection", CHAMPION)
    assert champion is not None and champion.version == "1"
    assert registry.get("inspection", "2").tags["withdrawn"].endswith("NG escapes since v2")
    [event] = published.of(ModelRolledBack)
    assert (event.version, event.from_version, event.actor) == ("1", "2", "inspector-7")

    again = client.post("/admin/rollback", json={"reason": "clicked twice"}, headers=auth)
    assert again.status_code == 409 and "previous" in again.json()["detail"]
    assert registry.by_alias("inspection", PREVIOUS) is None
    assert len(published.of(ModelRolledBack)) == 1

    older = client.post("/admin/deploy", json={"version": "1", "reason": "x"}, headers=auth)
    assert older.status_code == 409
    missing = client.post("/admin/rollback", json={"reason": "x", "to": "9"}, headers=auth)
    assert missing.status_code == 404


@pytest.mark.parametrize("dashboard", [False, True])
def test_a_review_answer_is_published_as_a_label(dashboard: bool) -> None:
    api, _, published = app(TOKEN, dashboard=dashboard)
    client = TestClient(api)
    auth = {"Authorization": f"Bearer {TOKEN}", "X-Actor": "inspector-7"}
    item = client.get("/review").json()["items"][0]["item"]

    assert client.post(f"/review/{'f' * 64}", json={"label": "OK"}, headers=auth).status_code == 404
    bad = client.post(f"/review/{item}", json={"label": "MAYBE"}, headers=auth)
    assert bad.status_code == 422 and "MAYBE" in bad.json()["detail"]
    good = client.post(f"/review/{item}", json={"label": "OK"}, headers=auth)
    assert good.status_code == 200, good.text

    [label] = published.of(LabelProvided)
    assert (label.item, label.label, label.reviewer) == (item, "OK", "inspector-7")
    assert label.served_label == "NG" and label.iteration_id == "it-1"
