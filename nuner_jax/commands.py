"""Subcommands defined next to the code they drive; `cli.py` adds each to its parser."""

from __future__ import annotations

import argparse
from collections.abc import Callable

REGISTRY: list[Callable[[argparse._SubParsersAction], None]] = []
