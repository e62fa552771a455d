"""Sub-commands beyond `stack`: registered here so the CLI module stays small."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the sub-commands; each imports its heavy modules only when run."""
