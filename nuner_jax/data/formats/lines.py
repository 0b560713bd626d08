"""Line-by-line decoding that names the line of any non-UTF-8 bytes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from nuner_jax.data.example import Rejects


def utf8_lines(path: Path, rejects: Rejects) -> Iterator[tuple[int, str]]:
    """(1-based line number, line without newline); undecodable lines are rejected with their number."""
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                yield number, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as e:
                rejects.add(path, number, f"not UTF-8: {e}", raw[:200].decode("utf-8", errors="replace"))
