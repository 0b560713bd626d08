"""NuNER's own formats: the hub CSV (`input`, `output` = stringified list) and JSONL.

Each annotation is `"span <> concept"` or `"span <> concept <> description"`; spans are located
by exact string match on word boundaries, at every occurrence.
"""

from __future__ import annotations

import ast
import csv
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from nuner_jax.data.example import DataFormatError, Example, Rejects, Span
from nuner_jax.data.formats.lines import utf8_lines
from nuner_jax.data.spans import find_occurrences

SEPARATOR = "<>"
FORBIDDEN_CONCEPT = "concept"  # the paper drops every sentence with this concept


def parse_annotation(line: str) -> tuple[str, str, str | None] | str:
    """(entity, concept, description) or the reason the line is not an annotation."""
    parts = [p.strip() for p in line.split(SEPARATOR)]
    if len(parts) < 2:
        return "no '<>' separator"
    if len(parts) > 3:
        return f"{len(parts)} fields, expected 2 or 3"
    entity, concept = parts[0].strip("\"'`*- "), parts[1]
    description = parts[2] if len(parts) == 3 and parts[2] else None
    if not entity:
        return "empty entity"
    if not concept:
        return "empty concept"
    return entity, concept, description


def annotations_to_example(
    record_id: str, text: str, annotations: Iterable[str], source: str | Path, rejects: Rejects
) -> Example | None:
    """Locate every annotation in `text`; None (and a reject) if the sentence must be dropped."""
    if not text.strip():
        rejects.add(source, record_id, "empty text")
        return None
    spans: list[Span] = []
    seen: set[tuple[int, int, str]] = set()
    for line in annotations:
        parsed = parse_annotation(line)
        if isinstance(parsed, str):
            rejects.add(source, record_id, f"annotation skipped: {parsed}", line)
            continue
        entity, concept, description = parsed
        if concept.strip().lower() == FORBIDDEN_CONCEPT:
            rejects.add(source, record_id, "sentence dropped: concept 'concept' (as in the paper)", line)
            return None
        hits = find_occurrences(text, entity)
        if not hits:
            rejects.add(source, record_id, "annotation skipped: span not found in text", line)
            continue
        for start, end in hits:
            if (start, end, concept) not in seen:
                seen.add((start, end, concept))
                spans.append(Span(start, end, concept, description))
    return Example(record_id, text, tuple(sorted(spans, key=lambda s: (s.start, s.end, s.concept))))


def read_jsonl(path: Path, rejects: Rejects) -> Iterator[Example]:
    """`{"id", "input", "output": ["span <> concept <> description", ...]}` per line."""
    for number, line in utf8_lines(path, rejects):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            rejects.add(path, number, f"malformed JSON: {e}", line[:500])
            continue
        if not isinstance(record, dict) or not isinstance(record.get("input"), str):
            rejects.add(path, number, "malformed record: needs a string 'input'", line[:500])
            continue
        output = record.get("output", [])
        if isinstance(output, str):
            output = _parse_output_string(output)
        if not isinstance(output, list):
            rejects.add(path, number, "malformed record: 'output' is not a list", line[:500])
            continue
        ex = annotations_to_example(str(record.get("id", f"line-{number}")), record["input"], output, path, rejects)
        if ex is not None:
            yield ex


def _parse_output_string(output: str) -> list[str] | None:
    try:
        value = ast.literal_eval(output)
    except (ValueError, SyntaxError):
        return None
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else None


def read_csv(path: Path, rejects: Rejects) -> Iterator[Example]:
    """The numind/NuNER hub CSV: columns `input`, `output` (stringified Python list)."""
    raw = path.read_bytes()
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataFormatError(path, line, f"not UTF-8 ({e.reason} at byte {e.start})") from e
    reader = csv.DictReader(content.splitlines(keepends=True))
    if not reader.fieldnames or not {"input", "output"} <= set(reader.fieldnames):
        raise DataFormatError(path, 1, f"CSV header must have 'input' and 'output' columns, got {reader.fieldnames}")
    for row_number, row in enumerate(reader, start=2):
        text, output = row.get("input"), row.get("output")
        if text is None or output is None or None in row:
            rejects.add(path, row_number, "malformed CSV row: wrong number of fields", row)
            continue
        annotations = _parse_output_string(output)
        if annotations is None:
            rejects.add(path, row_number, "malformed 'output': not a Python list literal", output[:500])
            continue
        ex = annotations_to_example(f"row-{row_number}", text, annotations, path, rejects)
        if ex is not None:
            yield ex


def write_jsonl(examples: Iterable[Example], path: str | Path) -> Path:
    """NuNER JSONL; every span written as `text <> concept [<> description]` (string-match format)."""
    path = Path(path)
    with path.open("w", encoding="utf-8") as f:
        for ex in examples:
            out, seen = [], set()
            for s in ex.spans:
                line = f"{ex.span_text(s)} {SEPARATOR} {s.concept}" + (
                    f" {SEPARATOR} {s.description}" if s.description else ""
                )
                if line not in seen:
                    seen.add(line)
                    out.append(line)
            f.write(json.dumps({"id": ex.id, "input": ex.text, "output": out}, ensure_ascii=False) + "\n")
    return path
