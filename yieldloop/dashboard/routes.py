"""The dashboard's pages: the board, its live part (fetched again by the page's script), each
iteration's audit page, and the same figures as JSON."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.common.history import Window
from yieldloop.audit import page
from yieldloop.audit.audit import Scope, complete, read
from yieldloop.dashboard.board import Board
from yieldloop.dashboard.config import DashboardSettings
from yieldloop.dashboard.svg import chart

router = APIRouter(tags=["dashboard"])


@cache
def views() -> Environment:
    return Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(["html"]),
    )


async def board_of(request: Request) -> Board:
    board: Board = request.app.state.board
    return board


async def settings_of(request: Request) -> DashboardSettings:
    settings: DashboardSettings = request.app.state.settings
    return settings


BoardDep = Annotated[Board, Depends(board_of)]
SettingsDep = Annotated[DashboardSettings, Depends(settings_of)]


def live_view(board: Board) -> dict[str, Any]:
    return {
        "charts": [
            (line, chart(line, list(r)), max(r, key=lambda x: x.occurred_at))
            for line, r in sorted(board.lines.items())
        ],
        "models": board.models,
        "iterations": board.iterations(),
        "dead_letters": board.dead_letters(),
        "reviews": board.reviews(),
        "rollbacks": board.rollbacks(),
        "records": board.records,
    }


@router.get("/", response_class=HTMLResponse)
async def index(board: BoardDep, settings: SettingsDep) -> str:
    """The board."""
    refresh_ms = int(settings.dashboard.refresh_s * 1000)
    return views().get_template("dashboard.html").render(refresh_ms=refresh_ms, **live_view(board))


@router.get("/live", response_class=HTMLResponse)
async def live(board: BoardDep) -> str:
    """The live part of the board, rendered afresh."""
    return views().get_template("live.html").render(**live_view(board))


@router.get("/api/state")
async def state(board: BoardDep) -> dict[str, Any]:
    """The board's figures as JSON."""
    return {
        "lines": {
            line: [r.model_dump(mode="json") for r in reports]
            for line, reports in board.lines.items()
        },
        "models": board.models,
        "iterations": board.iterations(),
        "dead_letters": board.dead_letters(),
        "reviews": board.reviews(),
        "rollbacks": board.rollbacks(),
    }


@router.get("/iterations/{iteration_id}", response_class=HTMLResponse)
async def iteration(
    iteration_id: str, board: BoardDep, settings: SettingsDep, verify: bool = False
) -> str:
    """The iteration's audit page, read afresh from the topics around it."""
    story = board.story(iteration_id)
    if story is None:
        raise HTTPException(404, f"no iteration {iteration_id} in the facts read so far")
    since: datetime = story.opened_at - timedelta(seconds=settings.dashboard.page_lookback_s)
    audit = await read(settings, Scope(Window(since=since), iteration_id=iteration_id))
    audit = await asyncio.to_thread(complete, audit, settings, verify=verify)
    if not audit.stories:
        raise HTTPException(404, f"iteration {iteration_id} has no facts after {since}")
    [found] = audit.stories
    return await asyncio.to_thread(
        page.render,
        found,
        audit.got.lines.get(found["line_id"]),
        window=settings.monitor.recent_window,
        ok_labels=settings.monitor.ok_labels,
        findings=audit.findings.get(iteration_id, ()),
    )
