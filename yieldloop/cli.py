"""The `yieldloop` command."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from services.common.settings import CommonSettings, ConfigError, load_settings

Command = Callable[[argparse.Namespace], int]


def cmd_stack(args: argparse.Namespace) -> int:
    from yieldloop import stack

    settings = load_settings(CommonSettings)
    if args.action == "up":
        took = stack.up(settings)
        print(f"stack healthy in {took:.1f} s")
    elif args.action == "down":
        stack.down(settings)
    else:
        for name, state in stack.status(settings).items():
            print(f"{name:<7} {state}")
        from yieldloop.stack.tools import hints, lib

        if lib(settings).joinpath(".complete").exists():
            print("\n".join(hints(settings)))
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="yieldloop", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)
    st = sub.add_parser("stack", help="the local Kafka, Redis and MLflow on loopback")
    st.add_argument("action", choices=["up", "down", "status"])
    st.set_defaults(run=cmd_stack)
    from yieldloop import commands

    commands.register(sub)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = parser().parse_args(argv)
    run: Command = args.run
    try:
        return run(args)
    except ConfigError as exc:
        print(f"yieldloop: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # StackError and friends: already readable
        print(f"yieldloop: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
