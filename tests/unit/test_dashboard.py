"""The dashboard's board from the records it is handed, and its pages served without a broker."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.fakes import record_of
from tests.unit.test_audit_lineage import history
from yieldloop.dashboard import routes
from yieldloop.dashboard.board import Board
from yieldloop.dashboard.config import DashboardSettings


def board() -> Board:
    events, _ = history()
    b = Board(reports_per_line=10)
    b.add(record_of(e, offset=i) for i, e in enumerate(events) if e.event_type != "PredictionMade")
    return b


def test_the_board_keeps_each_lines_reports_and_lists_iterations() -> None:
    b = board()
    assert list(b.lines) == ["line-1"]
    [row] = b.iterations()
    assert row["iteration_id"] == "line-1-it" and row["decision"] == "approved"


def test_the_pages_show_the_yield_plot_and_the_iteration_row() -> None:
    api = FastAPI()
    api.include_router(routes.router)
    api.state.board, api.state.settings = board(), DashboardSettings()
    client = TestClient(api)

    index = client.get("/")
    assert index.status_code == 200 and "setInterval" in index.text
    live = client.get("/live").text
    assert 'class="yield-plot" data-line="line-1"' in live and 'polyline class="yield"' in live
    assert 'data-href="/iterations/line-1-it"' in live
    assert client.get("/api/state").json()["iterations"][0]["stage"] == "deployed"
    assert client.get("/iterations/unknown").status_code == 404


def test_the_live_figures_show_the_input_shift_and_the_signals_out_of_bounds() -> None:
    b = board()
    events, _ = history()
    report = next(e for e in events if e.event_type == "YieldReported")
    washed = report.model_copy(
        update={"occurred_at": report.occurred_at + timedelta(seconds=1), "yield_rate": 0.97,
                "input_shift": 3.2, "out_of_bounds": ["input"]}
    )  # fmt: skip
    b.add([record_of(washed, offset=len(events))])
    api = FastAPI()
    api.include_router(routes.router)
    api.state.board, api.state.settings = b, DashboardSettings()

    live = TestClient(api).get("/live").text
    assert "input shift 3.20" in live and 'out of bounds: <b class="out">input</b>' in live
