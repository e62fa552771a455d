"""`yieldloop replay monitor | images`: side-effect free, results in a run folder."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.common.settings import REPO_ROOT, load_settings
from services.monitor.config import MonitorSettings
from yieldloop.audit.command import moment


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "replay",
        help="run recorded history again, side-effect free",
        description="Reads the recorded topics with no consumer group and publishes nothing; "
        "results go to a run folder.",
    )
    kinds = p.add_subparsers(dest="kind", required=True)
    mon = kinds.add_parser(
        "monitor", help="the monitor's policy over the recorded predictions, against its record"
    )
    mon.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="another monitor setting, e.g. yield_threshold=0.8 or signals=yield,mix (what if?)",
    )
    img = kinds.add_parser("images", help="the recorded images judged by any registered version")
    img.add_argument("--model", required=True, metavar="VERSION", help="registered version")
    img.add_argument("--line", help="only this line's images")
    img.add_argument("--truth", type=Path, help="a truth CSV (the demo's truth.csv)")
    for q in (mon, img):
        q.add_argument("--from", dest="since", type=moment, help="from this time (ISO 8601)")
        q.add_argument("--to", dest="until", type=moment, help="up to this time")
        q.add_argument("--out", type=Path, help="run folder (default runs/replay-...)")
    mon.set_defaults(run=cmd_replay_monitor)
    img.set_defaults(run=cmd_replay_images)


def overrides(pairs: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"yieldloop replay: --set wants KEY=VALUE, got {pair!r}")
        found[key.strip()] = None if value.strip().lower() in ("null", "none") else value.strip()
    return found


def cmd_replay_monitor(args: argparse.Namespace) -> int:
    from yieldloop.replay import run

    settings = load_settings(MonitorSettings)
    what_if = overrides(args.set)
    result = asyncio.run(run.monitor(settings, since=args.since, until=args.until, what_if=what_if))
    folder = _write(args.out, "monitor", result)
    from yieldloop.replay.triggers import table

    print(table(result))
    print(f"reproduced: {'yes' if result['reproduced'] else 'no'}; {folder / 'replay.json'}")
    return 0 if result["reproduced"] or what_if else 1


def cmd_replay_images(args: argparse.Namespace) -> int:
    from yieldloop.replay import run

    settings = load_settings(MonitorSettings)
    result = asyncio.run(
        run.images(
            settings,
            version=args.model,
            since=args.since,
            until=args.until,
            line=args.line,
            truth=args.truth,
        )
    )
    folder = _write(args.out, "images", result)
    s = result["summary"]
    print(
        f"v{s['version']} judged {s['images']} recorded images: agreement with what was served "
        f"{_pct(s['agreement'])}; with truth for {s['with_truth']}: served accuracy "
        f"{_pct(s['served_accuracy'])}, v{s['version']} accuracy {_pct(s['replayed_accuracy'])}"
    )
    print(f"{folder / 'replay.json'}")
    return 0


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _write(out: Path | None, kind: str, result: dict[str, Any]) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    folder = out or REPO_ROOT / "runs" / f"replay-{kind}-{stamp}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "replay.json").write_text(json.dumps(result, indent=1, default=str) + "\n")
    return folder
