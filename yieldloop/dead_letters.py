"""`yieldloop dead-letters list | show | redrive`: the records set aside as poison, and sending
them back to their topic once the cause is fixed (each once, unless forced)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from schemas import DEAD_LETTER
from services.common.coordination import RedisCoordination
from services.common.history import read_records
from services.common.kafka import Record, make_broker
from services.common.settings import CommonSettings, load_settings

OURS = ("x-error", "x-origin", "x-redriven-from")


@dataclass(frozen=True)
class DeadLetter:
    record: Record

    @property
    def ref(self) -> str:
        return f"{self.record.partition}:{self.record.offset}"

    @property
    def headers(self) -> dict[str, str]:
        return {k: v.decode(errors="replace") for k, v in self.record.headers or ()}

    @property
    def origin(self) -> str:
        return self.headers.get("x-origin", "?/?/?")

    @property
    def topic(self) -> str:
        return self.origin.rsplit("/", 2)[0]

    @property
    def error(self) -> str:
        return self.headers.get("x-error", "")

    @property
    def when(self) -> datetime:
        return datetime.fromtimestamp(self.record.timestamp / 1000, UTC)

    def original_headers(self) -> dict[str, str]:
        return {k: v for k, v in self.headers.items() if k not in OURS}


async def dead_letters(settings: CommonSettings) -> list[DeadLetter]:
    found = await read_records(settings, [DEAD_LETTER])
    return sorted((DeadLetter(r) for r in found), key=lambda d: d.record.timestamp)


async def redrive(
    settings: CommonSettings, letters: Sequence[DeadLetter], *, force: bool = False
) -> list[tuple[DeadLetter, bool]]:
    """Publish each record's original bytes, key and headers to its topic again; a record sent
    back before is skipped unless forced. Returns each letter with whether it was sent."""
    done = RedisCoordination.from_url(settings.redis_url)
    sent = []
    try:
        async with make_broker(settings, client_id="dead-letters") as broker:
            for letter in letters:
                key = f"redriven:{letter.ref}"
                if not force and await done.is_done(key):
                    sent.append((letter, False))
                    continue
                await broker.publish(
                    letter.record.value,
                    letter.topic,
                    key=letter.record.key,
                    headers={**letter.original_headers(), "x-redriven-from": letter.ref},
                )
                await done.mark_done(key)
                sent.append((letter, True))
    finally:
        await done.close()
    return sent


def cmd(args: argparse.Namespace) -> int:
    settings = load_settings(CommonSettings)
    letters = asyncio.run(dead_letters(settings))
    if args.action == "list":
        print(listing(letters))
        return 0
    chosen = letters if args.all else [d for d in letters if d.ref in args.refs]
    missing = set(args.refs) - {d.ref for d in chosen}
    if missing or not chosen:
        print(
            f"no dead letter {', '.join(sorted(missing)) or 'chosen'} (see `list`)", file=sys.stderr
        )
        return 2
    if args.action == "show":
        print("\n\n".join(detail(d) for d in chosen))
        return 0
    for letter, was_sent in asyncio.run(redrive(settings, chosen, force=args.force)):
        verb = "sent back to" if was_sent else "already sent back to (use --force)"
        print(f"{letter.ref} {verb} {letter.topic}")
    return 0


def listing(letters: list[DeadLetter]) -> str:
    if not letters:
        return "no dead letters"
    rows = [f"{'ref':<10} {'when (UTC)':<19} {'origin':<42} error"]
    for d in letters:
        rows.append(f"{d.ref:<10} {d.when:%Y-%m-%d %H:%M:%S} {d.origin:<42} {d.error[:70]}")
    return "\n".join(rows)


def detail(d: DeadLetter) -> str:
    try:
        body = json.dumps(json.loads(d.record.value), indent=1)[:4000]
    except (ValueError, UnicodeDecodeError):
        body = repr(d.record.value[:600])
    headers = "\n".join(f"  {k}: {v}" for k, v in d.headers.items())
    return f"{d.ref} at {d.when:%Y-%m-%d %H:%M:%S} UTC\nheaders:\n{headers}\nbody:\n{body}"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "dead-letters",
        help="list, show or send back the records set aside as poison",
        description="Dead letters keep the original bytes, headers and the error. `redrive` "
        "sends records back to the topic they came from once the cause is fixed.",
    )
    p.add_argument("action", choices=["list", "show", "redrive"])
    p.add_argument("refs", nargs="*", metavar="PARTITION:OFFSET", help="as `list` shows them")
    p.add_argument("--all", action="store_true", help="every dead letter")
    p.add_argument("--force", action="store_true", help="redrive: send again even if sent before")
    p.set_defaults(run=cmd)
