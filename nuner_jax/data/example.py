"""The canonical record every reader produces: a text and character spans with concept names."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any


@dataclasses.dataclass(frozen=True)
class Span:
    start: int  # character offset, inclusive
    end: int  # character offset, exclusive
    concept: str
    description: str | None = None


@dataclasses.dataclass(frozen=True)
class Example:
    id: str
    text: str
    spans: tuple[Span, ...] = ()

    def span_text(self, span: Span) -> str:
        return self.text[span.start : span.end]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "spans": [[s.start, s.end, s.concept] + ([s.description] if s.description else []) for s in self.spans],
        }


class DataFormatError(ValueError):
    """Bad input that must stop the run: names the file and the line or record."""

    def __init__(self, source: str | Path, where: str | int, reason: str):
        self.source, self.where, self.reason = str(source), where, reason
        super().__init__(f"{source}:{where}: {reason}")


def check_span(text: str, span: Span) -> str | None:
    """None if the span is usable; otherwise why not."""
    if not (0 <= span.start < span.end <= len(text)):
        return f"span [{span.start}, {span.end}) out of range for text of length {len(text)}"
    if not span.concept.strip():
        return f"span [{span.start}, {span.end}) has an empty concept"
    if not text[span.start : span.end].strip():
        return f"span [{span.start}, {span.end}) covers only whitespace"
    return None


class Rejects:
    """Records (or parts of records) left out, each with the file, the place and the reason.

    Nothing a user gave is dropped silently: `write` saves them to a JSONL file.
    """

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, source: str | Path, where: str | int, reason: str, record: Any = None) -> None:
        self.items.append({"source": str(source), "where": where, "reason": reason, "record": record})

    def __len__(self) -> int:
        return len(self.items)

    def extend(self, other: "Rejects") -> None:
        self.items.extend(other.items)

    def count_by_reason(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in self.items:
            key = item["reason"].split(":")[0].split(" [")[0]
            counts[key] = counts.get(key, 0) + 1
        return counts

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as f:
            for item in self.items:
                f.write(json.dumps(item, ensure_ascii=False, default=str) + "\n")
        return path
