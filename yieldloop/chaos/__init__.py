"""`yieldloop chaos`: fault injection on the real stack, one scenario after another, counted
from the topics; the table is printed and written to `runs/chaos-<time>/chaos.json`."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from services.common.settings import REPO_ROOT, CommonSettings, load_settings
from yieldloop.chaos.measure import Row
from yieldloop.chaos.play import Pace, play
from yieldloop.chaos.scenarios import Scenario, catalog
from yieldloop.fleet import Fleet

Say = Callable[[str], None]
# Its own stack (ports and state folder), so a demo or a test run is left alone; every port
# below Linux's ephemeral range, where a client connection may already hold one.
CHAOS_ENV = {
    "YIELDLOOP_STACK__STATE_DIR": ".yieldloop/chaos",
    "YIELDLOOP_STACK__KAFKA_PORT": "19192",
    "YIELDLOOP_STACK__KAFKA_CONTROLLER_PORT": "19193",
    "YIELDLOOP_STACK__REDIS_PORT": "16479",
    "YIELDLOOP_STACK__MLFLOW_PORT": "15100",
    "YIELDLOOP_INFERENCE__PORT": "18100",
    "YIELDLOOP_MONITOR__PORT": "18101",
    "YIELDLOOP_CURATOR__PORT": "18102",
    "YIELDLOOP_TRAINER__PORT": "18103",
    "YIELDLOOP_GATEKEEPER__PORT": "18104",
    # A stuck iteration must end within a scenario, not after half an hour.
    "YIELDLOOP_MONITOR__ITERATION_TIMEOUT_S": "180",
    "YIELDLOOP_FAULTS__ENABLED": "true",
}
MAY_ABORT = ("mlflow stopped",)  # an outage longer than a job's patience may end it in an abort
# A crash point after a swap is never reached when the gate refuses the candidate: the scenario
# is played again on a fresh line, and its row counts every attempt. The gate refuses a quarter
# to a third of the chaos lines' candidates (golden NG recall 134 of 150, under its 0.9 floor), so
# three attempts all refused happened once in five quick runs; five make that rare.
UNFIRED_ATTEMPTS = 5


def rounds_of(scenarios: list[Scenario], rounds: int) -> list[Scenario]:
    """Every scenario once; the random kills `rounds` times (each at another random moment)."""
    extra = [s for s in scenarios if s.random_kill for _ in range(rounds - 1)]
    return [*scenarios, *extra]


def merge(rows: list[Row]) -> list[Row]:
    """One row per scenario: runs summed, worst figures kept."""
    merged: dict[str, Row] = {}
    for row in rows:
        seen = merged.get(row.scenario)
        merged[row.scenario] = row if seen is None else _worst(seen, row)
    return list(merged.values())


def _worst(a: Row, b: Row) -> Row:
    return replace(
        a,
        runs=a.runs + b.runs,
        completed=a.completed + b.completed,
        aborted=a.aborted + b.aborted,
        iterations=a.iterations + b.iterations,
        max_decisions_per_iteration=max(
            a.max_decisions_per_iteration, b.max_decisions_per_iteration
        ),
        max_deployments_per_replica_version=max(
            a.max_deployments_per_replica_version, b.max_deployments_per_replica_version
        ),
        predictions_lost=a.predictions_lost + b.predictions_lost,
        dead_letters=a.dead_letters + b.dead_letters,
        poison_sent=a.poison_sent + b.poison_sent,
        fault_fired=a.fault_fired and b.fault_fired,
        repeated_records=a.repeated_records + b.repeated_records,
        aborted_reasons=a.aborted_reasons + b.aborted_reasons,
    )


def passed(row: Row) -> bool:
    return row.ok(may_abort=row.scenario.startswith(MAY_ABORT))


def table(rows: list[Row]) -> str:
    head = f"{'scenario':<48} runs done abrt dec/it dep/rv lost dead poison fault rep  ok"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r.scenario:<48} {r.runs:>4} {r.completed:>4} {r.aborted:>4} "
            f"{r.max_decisions_per_iteration:>6} {r.max_deployments_per_replica_version:>6} "
            f"{r.predictions_lost:>4} {r.dead_letters:>4} {r.poison_sent:>6} "
            f"{'yes' if r.fault_fired else 'NO':>5} {r.repeated_records:>4} "
            f"{'yes' if passed(r) else 'NO':>3}"
        )
    return "\n".join(lines)


async def run_all(
    settings: CommonSettings, fleet: Fleet, scenarios: list[Scenario], pace: Pace, say: Say
) -> list[Row]:
    rows = []
    for index, scenario in enumerate(scenarios):
        began = time.monotonic()
        row = await play(scenario, fleet=fleet, settings=settings, pace=pace, seed=index)
        for attempt in range(1, UNFIRED_ATTEMPTS):
            if row.fault_fired:
                break
            say(f"[{index + 1}/{len(scenarios)}] {scenario.name}: the fault's moment never came")
            seed = index + 1000 * attempt
            again = await play(scenario, fleet=fleet, settings=settings, pace=pace, seed=seed)
            row = replace(_worst(row, again), fault_fired=again.fault_fired)
        rows.append(row)
        verdict = "ok" if passed(row) else "FAILED"
        took = time.monotonic() - began
        say(f"[{index + 1}/{len(scenarios)}] {scenario.name}: {verdict} in {took:.0f} s")
    return rows


def main(args: argparse.Namespace) -> int:
    for key, value in CHAOS_ENV.items():
        os.environ.setdefault(key, value)
    for noisy in ("aiokafka", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from yieldloop import stack
    from yieldloop.bootstrap_models import bootstrap_models

    began = time.monotonic()
    settings = load_settings(CommonSettings)
    out = REPO_ROOT / "runs" / f"chaos-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    scenarios = [s for s in catalog() if not args.only or any(o in s.name for o in args.only)]
    scenarios = rounds_of(scenarios, 1 if args.quick else args.rounds)
    print(f"stack healthy in {stack.up(settings):.1f} s")
    try:
        bootstrap_models(settings)
        with Fleet(log_dir=out / "logs") as fleet:
            print(f"services ready in {fleet.start():.1f} s; {len(scenarios)} scenarios")
            rows = merge(
                asyncio.run(
                    run_all(
                        settings,
                        fleet,
                        scenarios,
                        Pace(rate=args.rate, steady_rate=args.steady_rate),
                        print,
                    )
                )
            )
    finally:
        if not args.keep_stack:
            stack.down(settings)
    took = time.monotonic() - began
    write(out, rows, took)
    print(table(rows))
    print(f"{len(rows)} scenarios in {took / 60:.1f} min; {out / 'chaos.json'}")
    return 0 if all(passed(r) for r in rows) else 1


def write(out: Path, rows: list[Row], took: float) -> None:
    out.mkdir(parents=True, exist_ok=True)
    body = {
        "scenarios": [{**r.as_json(), "ok": passed(r)} for r in rows],
        "seconds": round(took, 1),
    }
    (out / "chaos.json").write_text(json.dumps(body, indent=1))


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "chaos",
        help="fault injection on the real stack: kills, outages, poison, two lines",
        description="Runs each scenario on a line of its own: the fault strikes mid-iteration, "
        "then the topics are counted. Exit status 1 if any row breaks a guarantee.",
    )
    p.add_argument("--quick", action="store_true", help="one round of every scenario")
    p.add_argument("--rounds", type=int, default=3, help="rounds of the random kills (default 3)")
    p.add_argument(
        "--rate", type=float, default=200.0, help="parts per second until a line drops (200)"
    )
    p.add_argument(
        "--steady-rate",
        type=float,
        default=50.0,
        help="parts per second once the line asked for an iteration (50)",
    )
    p.add_argument("--only", nargs="*", metavar="TEXT", help="scenarios whose name contains TEXT")
    p.add_argument(
        "--keep-stack",
        action="store_true",
        help="leave Kafka/Redis/MLflow up, to look at the topics",
    )
    p.set_defaults(run=main)
