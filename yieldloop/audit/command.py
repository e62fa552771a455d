"""`yieldloop audit`: the table, `--json`, a page per iteration, `--verify`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from services.common.settings import REPO_ROOT, load_settings
from services.monitor.config import MonitorSettings

if TYPE_CHECKING:
    from yieldloop.audit.audit import Audit


def moment(text: str) -> datetime:
    """An ISO 8601 time; one without a zone is taken as UTC."""
    at = datetime.fromisoformat(text)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "audit",
        help="every iteration's story rebuilt from the topics, checked with --verify",
        description="Reads the pipeline topics, predictions and dead letters from the start (or "
        "a window) with no consumer group, and tells each retrain iteration's story.",
    )
    p.add_argument("--since", type=moment, help="from this time (ISO 8601, UTC if no zone)")
    p.add_argument("--until", type=moment, help="up to this time")
    p.add_argument("--iteration", help="only this iteration")
    p.add_argument("--line", help="only iterations of this line")
    p.add_argument("--json", action="store_true", help="print the whole audit as JSON")
    p.add_argument("--html", type=Path, metavar="DIR", help="write a page per iteration here")
    p.add_argument("--verify", action="store_true", help="check every link; non-zero if broken")
    p.set_defaults(run=cmd_audit)


def cmd_audit(args: argparse.Namespace) -> int:
    from services.common.history import Window
    from yieldloop.audit.audit import Scope, complete, read, to_json
    from yieldloop.audit.table import table

    settings = load_settings(MonitorSettings)
    scope = Scope(Window(args.since, args.until), args.iteration, args.line)
    audit = complete(asyncio.run(read(settings, scope)), settings, verify=args.verify)
    if args.json:
        print(json.dumps(to_json(audit), indent=1))
    else:
        print(table(audit.stories))
    folder = args.html or (None if args.json else REPO_ROOT / "runs" / f"audit-{_stamp()}")
    if folder is not None:
        write_pages(audit, folder, settings)
        print(f"pages: {folder}", file=sys.stderr if args.json else sys.stdout)
    if args.verify:
        return _report_findings(audit, quiet=args.json)
    return 0


def write_pages(audit: Audit, folder: Path, settings: MonitorSettings) -> None:
    from yieldloop.audit import page

    folder.mkdir(parents=True, exist_ok=True)
    for story in audit.stories:
        html = page.render(
            story,
            audit.got.lines.get(story["line_id"]),
            window=settings.monitor.recent_window,
            ok_labels=settings.monitor.ok_labels,
            findings=audit.findings.get(story["iteration_id"], ()),
        )
        (folder / f"{story['iteration_id']}.html").write_text(html)


def _report_findings(audit: Audit, *, quiet: bool) -> int:
    broken = [f for found in audit.findings.values() for f in found if not f.ok]
    out = sys.stderr if quiet else sys.stdout
    if not quiet:
        for found in audit.findings.values():
            for f in found:
                print(f.line(), file=out)
    checked = sum(len(v) for v in audit.findings.values())
    if broken:
        for f in broken:
            print(f"broken link: {f.line()}", file=sys.stderr)
        return 1
    print(f"verified: {checked} links of {len(audit.findings)} iterations hold", file=out)
    return 0


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
