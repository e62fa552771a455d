"""Sub-commands beyond `stack`: each imports its heavy modules only when it runs."""

from __future__ import annotations

import argparse
import asyncio
import runpy
import sys
from pathlib import Path

from services.common.settings import CommonSettings, load_settings

SERVICES = ["inference", "monitor", "curator", "trainer", "gatekeeper"]


def cmd_bootstrap(args: argparse.Namespace) -> int:
    from yieldloop.bootstrap_models import bootstrap_models

    bootstrap_models(load_settings(CommonSettings), force=args.force, seed=args.seed)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from yieldloop.importer import NotImportable, import_line

    try:
        import_line(
            load_settings(CommonSettings),
            args.source,
            images=args.images,
            image_size=args.image_size,
            golden_share=args.golden_share,
            force=args.force,
            seed=args.seed,
        )
    except NotImportable as exc:
        print(f"yieldloop import: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    runpy.run_module(f"services.{args.service}", run_name="__main__")
    return 0


def cmd_topics(args: argparse.Namespace) -> int:
    from services.common.topics import ensure_topics

    report = asyncio.run(ensure_topics(load_settings(CommonSettings)))
    for line in report.lines():
        print(f"topics: {line}")
    return 1 if args.strict and report.differing else 0


def cmd_browse(args: argparse.Namespace) -> int:
    from yieldloop.browse import browse

    browse(load_settings(CommonSettings), topic=args.topic)
    return 0


def cmd_events_doc(args: argparse.Namespace) -> int:
    from yieldloop.events_doc import render

    Path(args.out).write_text(render())
    print(f"wrote {args.out}")
    return 0


def cmd_asyncapi_doc(args: argparse.Namespace) -> int:
    from yieldloop.asyncapi import render

    Path(args.out).write_text(render())
    print(f"wrote {args.out}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from services.monitor.config import MonitorSettings
    from yieldloop import demo, report, stack
    from yieldloop.bootstrap_models import bootstrap_models
    from yieldloop.dashboard.command import start_daemon
    from yieldloop.fleet import Fleet

    settings = load_settings(MonitorSettings)
    plan = demo.DemoPlan(
        rate=args.rate,
        warmup_s=args.warmup,
        after_s=args.after,
        drift=args.drift,
        strength=args.strength,
    )
    print(f"stack healthy in {stack.up(settings):.1f} s")
    try:
        bootstrap_models(settings)
        print(f"MLflow:    {settings.mlflow_uri}\ndashboard: {start_daemon(settings)}")
        line_id, run_dir = demo.new_run_dir()
        with Fleet(log_dir=run_dir / "logs") as fleet:
            print(f"services ready in {fleet.start():.1f} s (logs: {run_dir / 'logs'})")
            print(
                f"line {line_id}: {plan.rate:.0f} parts/s, {plan.drift} drift (strength"
                f" {plan.strength:g}) after {plan.warmup_s:.0f} s"
            )
            run, switch = asyncio.run(demo.follow(settings, plan, line_id=line_id, run_dir=run_dir))
        figures = demo.write_report(settings, run, switch, line_id=line_id, run_dir=run_dir)
        print(report.summary_table(figures))
        print(f"report: {run_dir / 'report.json'}\nplot:   {run_dir / 'report.png'}")
        return 0 if figures["decision"] == "approved" else 1
    finally:
        if not args.keep_stack:
            stack.down(settings)  # the dashboard with it


def cmd_efficacy(args: argparse.Namespace) -> int:
    from services.monitor.config import MonitorSettings
    from yieldloop import efficacy, stack

    settings = load_settings(MonitorSettings)
    plan = efficacy.EfficacyPlan(
        drifts=tuple(args.drift),
        strength=args.strength,
        rate=args.rate,
        quiet_predictions=args.quiet_predictions,
    )
    print(f"stack healthy in {stack.up(settings):.1f} s")
    try:
        run_dir = efficacy.run(settings, plan)
    finally:
        if not args.keep_stack:
            stack.down(settings)
    print((run_dir / "efficacy.md").read_text())
    print(f"table: {run_dir / 'efficacy.md'}\njson:  {run_dir / 'efficacy.json'}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from yieldloop import chaos, dead_letters, operate, produce
    from yieldloop.audit import command as audit
    from yieldloop.dashboard import command as dashboard
    from yieldloop.drifts import DEFAULT_DRIFT, DEFAULT_STRENGTH, DRIFTS
    from yieldloop.replay import command as replay

    boot = sub.add_parser("bootstrap", help="train and register the first champion and referees")
    boot.add_argument("--force", action="store_true", help="train again even if registered")
    boot.add_argument("--seed", type=int, default=0)
    boot.set_defaults(run=cmd_bootstrap)
    imp = sub.add_parser(
        "import",
        help="your own line: labelled images become its first champion and referees",
        description="Class folders (SOURCE/OK/..., SOURCE/NG/..., any class names) or a CSV "
        "of filename,label. A stratified share becomes the golden set; the champion and both "
        "referees are trained on the rest and registered. See docs/your-own-line.md.",
    )
    imp.add_argument("source", type=Path, help="folder of class folders, or a .csv file")
    imp.add_argument("--images", type=Path, help="CSV only: folder the filenames are in")
    imp.add_argument("--image-size", type=int, default=32, help="side in px (default 32)")
    imp.add_argument("--golden-share", type=float, default=0.2, help="golden set share (0.2)")
    imp.add_argument("--force", action="store_true", help="register new versions over existing")
    imp.add_argument("--seed", type=int, default=0)
    imp.set_defaults(run=cmd_import)
    serve = sub.add_parser("serve", help="run one service in the foreground")
    serve.add_argument("service", choices=SERVICES)
    serve.set_defaults(run=cmd_serve)
    topics = sub.add_parser(
        "topics", help="create the catalog's topics on the configured broker, report differences"
    )
    topics.add_argument("action", choices=["ensure"])
    topics.add_argument("--strict", action="store_true", help="exit 1 if a topic differs")
    topics.set_defaults(run=cmd_topics)
    look = sub.add_parser(
        "browse", help="topics, consumer groups with lag, and messages in a terminal UI (kaskade)"
    )
    look.add_argument("--topic", help="show this topic's messages from the beginning")
    look.set_defaults(run=cmd_browse)
    doc = sub.add_parser("events-doc", help="write the event catalog page")
    doc.add_argument("--out", default="docs/events.md")
    doc.set_defaults(run=cmd_events_doc)
    spec = sub.add_parser("asyncapi-doc", help="write the system's AsyncAPI document")
    spec.add_argument("--out", default="docs/asyncapi.json")
    spec.set_defaults(run=cmd_asyncapi_doc)
    dem = sub.add_parser("demo", help="the whole loop on the demo production line")
    dem.add_argument("--rate", type=float, default=20.0, help="parts per second")
    dem.add_argument("--warmup", type=float, default=25.0, help="seconds before drift")
    dem.add_argument("--after", type=float, default=20.0, help="seconds judged after the swap")
    dem.add_argument(
        "--keep-stack", action="store_true", help="leave Kafka/Redis/MLflow and the dashboard up"
    )
    dem.add_argument(
        "--drift",
        choices=sorted(DRIFTS),
        default=DEFAULT_DRIFT,
        metavar="KIND",
        help=f"which drift: {', '.join(DRIFTS)} (default {DEFAULT_DRIFT})",
    )
    dem.add_argument(
        "--strength",
        type=float,
        default=DEFAULT_STRENGTH,
        help=f"drift strength in [0, 1] (default {DEFAULT_STRENGTH})",
    )
    dem.set_defaults(run=cmd_demo)
    eff = sub.add_parser("efficacy", help="the loop on every drift of the zoo and a quiet line")
    eff.add_argument("--drift", nargs="+", choices=list(DRIFTS), default=list(DRIFTS))
    eff.add_argument("--strength", type=float, default=DEFAULT_STRENGTH)
    eff.add_argument("--rate", type=float, default=20.0, help="parts per second when drifting")
    eff.add_argument("--quiet-predictions", type=int, default=10_000, help="on the quiet line")
    eff.add_argument("--keep-stack", action="store_true", help="leave Kafka/Redis/MLflow up")
    eff.set_defaults(run=cmd_efficacy)
    produce.register(sub)
    chaos.register(sub)
    dead_letters.register(sub)
    audit.register(sub)
    replay.register(sub)
    dashboard.register(sub)
    operate.register(sub)
