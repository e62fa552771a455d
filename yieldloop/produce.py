"""The production-line simulator: publishes one ImageSubmitted per part at a steady rate."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from functools import partial
from pathlib import Path

from schemas import ImageRef, ImageSubmitted
from services.common.kafka import make_broker, publisher
from services.common.retry import retrying
from services.common.settings import CommonSettings, load_settings
from services.common.store import ImageStore, LocalImageStore, sha256_of
from services.inference.domain import UnsafeArchive
from yieldloop.drifts import DEFAULT_DRIFT, DEFAULT_STRENGTH, DRIFTS
from yieldloop.sources import Item, demo_items, folder_items, image_files, zip_items
from yieldloop.truth import truth_log

PRODUCER = "line-simulator"
PROGRESS_EVERY_S = 5.0
Say = Callable[[str], None]


def image_ref(png: bytes, *, limit: int, store: ImageStore) -> ImageRef:
    """Inline when small, otherwise a claim check into the image store."""
    if len(png) <= limit:
        return ImageRef.inline(png)
    return ImageRef(sha256=sha256_of(png), uri=store.put(png))


class Pace:
    """Item i is due at start + i/rate on the monotonic clock, so delays never accumulate."""

    def __init__(self, rate: float, stop: asyncio.Event | None) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self.rate, self.stop, self.start = rate, stop or asyncio.Event(), time.monotonic()

    async def wait(self, index: int) -> bool:
        """Sleep until item `index` is due; True when the caller asked to stop."""
        delay = self.start + index / self.rate - time.monotonic()
        if delay > 0 and not self.stop.is_set():
            with suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), timeout=delay)
        return self.stop.is_set()


class Progress:
    """A line every PROGRESS_EVERY_S seconds, so a long run shows it is alive."""

    def __init__(self, say: Say | None, line_id: str) -> None:
        self.say, self.line_id = say, line_id
        self.start = self.said = time.monotonic()

    def tick(self, sent: int) -> None:
        now = time.monotonic()
        if self.say is not None and now - self.said >= PROGRESS_EVERY_S:
            self.said = now
            self.say(f"{self.line_id}: {sent} images sent ({sent / (now - self.start):.1f}/s)")


async def produce(
    settings: CommonSettings,
    *,
    source: Iterator[Item],
    line_id: str,
    rate: float,
    count: int | None,
    truth: Path | None,
    say: Say | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Publish up to `count` items from `source` at `rate` per second; returns how many."""
    pace, progress, sent = Pace(rate, stop), Progress(say, line_id), 0
    store, limit = LocalImageStore(settings.store_root), settings.kafka.inline_image_limit
    async with make_broker(settings, client_id=f"produce-{line_id}") as broker:
        publish = publisher(broker)
        with truth_log(truth) as record:
            while (count is None or sent < count) and not await pace.wait(sent):
                if (item := next(source, None)) is None:
                    break
                image = image_ref(item.png, limit=limit, store=store)
                event = ImageSubmitted(
                    producer=PRODUCER,
                    line_id=line_id,
                    item_id=item.item_id,
                    image=image,
                    filename=item.filename,
                )
                # The line keeps the part until the broker takes it (a broker restart pauses it).
                await retrying(partial(publish, event), backoff=settings.retry)
                record(item, event)
                sent += 1
                progress.tick(sent)
    return sent


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `yieldloop produce`."""
    p = sub.add_parser(
        "produce",
        help="simulate a production line publishing part images",
        description="Publish one ImageSubmitted per part at a steady rate. With "
        "neither --folder nor --zip, parts come from the seeded demo line.",
    )
    p.add_argument("--line", default="line-1", help="production line id (default line-1)")
    p.add_argument("--rate", type=_positive, default=20.0, help="images per second (default 20)")
    p.add_argument(
        "--count",
        type=int,
        metavar="N",
        help="stop after N images (default: when the source ends, or on Ctrl-C)",
    )
    p.add_argument("--seed", type=int, default=0, help="demo line seed (default 0)")
    p.add_argument(
        "--drift",
        nargs="?",
        const=DEFAULT_DRIFT,
        choices=sorted(DRIFTS),
        metavar="KIND",
        help=f"drift the images (demo line or --folder): {', '.join(DRIFTS)} "
        f"(default {DEFAULT_DRIFT}); from the first image unless --drift-after",
    )
    p.add_argument("--drift-after", type=int, metavar="N", help="drift from image N on")
    p.add_argument(
        "--strength",
        type=float,
        default=DEFAULT_STRENGTH,
        metavar="S",
        help=f"drift strength in [0, 1] (default {DEFAULT_STRENGTH})",
    )
    given = p.add_mutually_exclusive_group()
    given.add_argument("--folder", type=Path, metavar="DIR", help="send the images in DIR")
    given.add_argument("--zip", type=Path, metavar="FILE", help="send the images in a zip")
    p.add_argument("--truth", type=Path, metavar="FILE", help="write ground truth CSV here")
    p.set_defaults(run=cmd_produce)


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def cmd_produce(args: argparse.Namespace) -> int:
    settings = load_settings(CommonSettings)
    try:
        source = _source(args)
    except (OSError, UnsafeArchive, ValueError) as exc:
        print(f"yieldloop produce: {exc}", file=sys.stderr)
        return 2
    began = time.monotonic()
    sent = asyncio.run(_produce_until_interrupted(settings, args, source))
    took = max(time.monotonic() - began, 1e-9)
    truth = f", truth in {args.truth}" if args.truth else ""
    print(f"{args.line}: sent {sent} images in {took:.1f} s ({sent / took:.1f}/s){truth}")
    return 0


async def _produce_until_interrupted(
    settings: CommonSettings, args: argparse.Namespace, source: Iterator[Item]
) -> int:
    """Ctrl-C ends the run cleanly, so the summary and the truth file stay whole."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGINT, stop.set)
    return await produce(
        settings,
        source=source,
        line_id=args.line,
        rate=args.rate,
        count=args.count,
        truth=args.truth,
        say=print,
        stop=stop,
    )


def _source(args: argparse.Namespace) -> Iterator[Item]:
    if not 0.0 <= args.strength <= 1.0:
        raise ValueError(f"--strength must be in [0, 1], got {args.strength}")
    drifting = args.drift is not None or args.drift_after is not None
    after = (args.drift_after or 0) if drifting else None
    kind = args.drift or DEFAULT_DRIFT
    if args.folder is not None:
        image_files(args.folder)  # a missing folder is refused before anything is sent
        return folder_items(
            args.folder, drift_after=after, kind=kind, strength=args.strength, seed=args.seed
        )
    if args.zip is not None:
        if drifting:
            raise ValueError("--drift applies to the demo line and --folder, not --zip")
        return zip_items(args.zip)
    return demo_items(seed=args.seed, drift_after=after, kind=kind, strength=args.strength)
