"""An operator's commands: `yieldloop rollback`, `yieldloop deploy` and `yieldloop review`. They
act with the stack's own credentials, as the admin REST routes do with the admin token."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys

from schemas import Event
from services.common import operator
from services.common.kafka import make_broker, publisher
from services.common.models import registry_from
from services.common.registry import ModelNotFound
from services.common.review import (
    KafkaReviewLog,
    ReviewQueue,
    UnknownItem,
    UnknownLabel,
    as_json,
)
from services.common.settings import CommonSettings, load_settings


async def publish(settings: CommonSettings, event: Event) -> None:
    async with make_broker(settings, client_id="operator") as broker:
        await publisher(broker)(event)


def cmd_rollback(args: argparse.Namespace) -> int:
    settings = load_settings(CommonSettings)
    name = settings.mlflow.model_name
    try:
        event = operator.rollback(
            registry_from(settings), name, reason=args.reason, actor=args.actor, to=args.to
        )
    except (operator.Refused, ModelNotFound) as exc:
        print(f"yieldloop rollback: {exc}", file=sys.stderr)
        return 1
    asyncio.run(publish(settings, event))
    print(
        f"{name}: champion v{event.from_version} -> v{event.version} ({event.rollback_id}); "
        f"v{event.from_version} is withdrawn; every replica swaps on ModelRolledBack"
    )
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    settings = load_settings(CommonSettings)
    name = settings.mlflow.model_name
    try:
        event = operator.deploy(
            registry_from(settings), name, args.version, reason=args.reason, actor=args.actor
        )
    except (operator.Refused, ModelNotFound) as exc:
        print(f"yieldloop deploy: {exc}", file=sys.stderr)
        return 1
    asyncio.run(publish(settings, event))
    print(f"{name}: champion v{event.previous_version} -> v{event.version} ({event.iteration_id})")
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    settings = load_settings(CommonSettings)
    queue = asyncio.run(KafkaReviewLog(settings).queue())
    if args.action == "list":
        pending = queue.pending(args.limit)
        if args.json:
            print(json.dumps([as_json(r) for r in pending], indent=1))
        else:
            print(listing(queue, args.limit))
        return 0
    try:
        item = unique(queue, args.item)
        given = queue.answer(
            item, label=args.label, reviewer=args.reviewer, note=args.note, producer="review"
        )
    except (UnknownItem, UnknownLabel) as exc:
        print(f"yieldloop review: {exc}", file=sys.stderr)
        return 2
    asyncio.run(publish(settings, given))
    print(f"{item[:12]} labelled {given.label} by {given.reviewer}: it joins the next dataset")
    return 0


def unique(queue: ReviewQueue, prefix: str) -> str:
    """The requested item a prefix of its sha256 names (the listing shows 12 characters)."""
    found = [item for item in queue.requested if item.startswith(prefix)]
    if len(found) != 1:
        raise UnknownItem(f"{len(found)} requested items start with {prefix!r}")
    return found[0]


def listing(queue: ReviewQueue, limit: int) -> str:
    pending = queue.pending()
    rows = [f"{len(pending)} waiting, {len(queue.labelled)} labelled"]
    rows.append(f"{'item':<13}{'line':<22}{'reason':<16}{'served':<8}votes")
    for r in pending[:limit]:
        votes = "  ".join(f"{v.referee}={v.label}@{v.confidence:.2f}" for v in r.votes)
        served = r.served_label or "-"
        rows.append(f"{r.item[:12]:<13}{r.line_id[:21]:<22}{r.reason:<16}{served:<8}{votes}")
    return "\n".join(rows)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    who = getpass.getuser()
    rb = sub.add_parser("rollback", help="move the champion back to the previous version")
    rb.add_argument("--reason", required=True, help="why; kept in the audit log")
    rb.add_argument("--to", help="a version to go back to (default: the `previous` alias)")
    rb.add_argument("--actor", default=who, help=f"who does it (default: {who})")
    rb.set_defaults(run=cmd_rollback)
    dp = sub.add_parser("deploy", help="make a newer registered version the champion by hand")
    dp.add_argument("version")
    dp.add_argument("--reason", required=True)
    dp.add_argument("--actor", default=who)
    dp.set_defaults(run=cmd_deploy)
    rv = sub.add_parser(
        "review",
        help="images the referees could not label, waiting for a person",
        description="`list` shows the queue, most informative first; `label ITEM LABEL` "
        "answers one (ITEM: its sha256 or a unique prefix); the label joins the next dataset.",
    )
    actions = rv.add_subparsers(dest="action", required=True)
    ls = actions.add_parser("list")
    ls.add_argument("--limit", type=int, default=20)
    ls.add_argument("--json", action="store_true")
    lb = actions.add_parser("label")
    lb.add_argument("item")
    lb.add_argument("label")
    lb.add_argument("--reviewer", default=who)
    lb.add_argument("--note", default="")
    rv.set_defaults(run=cmd_review)
