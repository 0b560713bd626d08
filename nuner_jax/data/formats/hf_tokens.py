"""Hugging Face datasets style JSONL: `{"tokens": [...], "ner_tags": [...]}` with string tags, or
integer tags plus `label_names` (the dataset's ClassLabel names)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from nuner_jax.data.example import Example, Rejects
from nuner_jax.data.formats.bio import tags_to_word_spans, word_spans_to_tags
from nuner_jax.data.formats.lines import utf8_lines
from nuner_jax.data.formats.word_level import example_to_words, words_to_example


def read_jsonl(path: Path, rejects: Rejects, label_names: Sequence[str] | None = None) -> Iterator[Example]:
    for number, line in utf8_lines(path, rejects):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            tokens, tags = rec["tokens"], rec["ner_tags"]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            rejects.add(path, number, f"malformed record: {type(e).__name__}: {e}", line[:500])
            continue
        if len(tokens) != len(tags):
            rejects.add(path, number, f"{len(tokens)} tokens but {len(tags)} tags", line[:500])
            continue
        if not tokens:
            rejects.add(path, number, "empty text", line[:500])
            continue
        if tags and isinstance(tags[0], int):
            if label_names is None:
                raise ValueError(f"{path}:{number}: integer ner_tags need label_names")
            tags = [label_names[t] for t in tags]
        try:
            spans, warnings = tags_to_word_spans(tags)
        except ValueError as e:
            rejects.add(path, number, f"bad tag: {e}", line[:500])
            continue
        for w in warnings:
            rejects.add(path, number, f"tag repaired (span kept): {w}")
        yield words_to_example(str(rec.get("id", f"{path.name}-{number}")), [str(t) for t in tokens], spans)


def write_jsonl(examples: Iterable[Example], path: str | Path) -> Path:
    path = Path(path)
    with path.open("w", encoding="utf-8") as f:
        for ex in examples:
            words, spans = example_to_words(ex)
            rec = {"id": ex.id, "tokens": words, "ner_tags": word_spans_to_tags(len(words), spans)}
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return path
