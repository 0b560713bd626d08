"""Pile-NER/GLiNER JSON: `{"tokenized_text": [...], "ner": [[first, last_inclusive, "label"], ...]}`
as a JSON list or one object per line."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from nuner_jax.data.example import Example, Rejects
from nuner_jax.data.formats.lines import utf8_lines
from nuner_jax.data.formats.word_level import example_to_words, words_to_example


def _records(path: Path, rejects: Rejects) -> Iterator[tuple[int, object]]:
    head = path.open("rb").read(256).lstrip()
    if head.startswith(b"["):
        try:
            data = json.loads(path.read_bytes().decode("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{path}: malformed JSON list ({e})") from e
        yield from enumerate(data)
        return
    for number, line in utf8_lines(path, rejects):
        if line.strip():
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as e:
                rejects.add(path, number, f"malformed JSON: {e}", line[:500])


def read_json(path: Path, rejects: Rejects) -> Iterator[Example]:
    for where, rec in _records(path, rejects):
        if not isinstance(rec, dict) or not isinstance(rec.get("tokenized_text"), list):
            rejects.add(path, where, "malformed record: needs a 'tokenized_text' list", rec)
            continue
        words = [str(w) for w in rec["tokenized_text"]]
        if not words:
            rejects.add(path, where, "empty text", rec)
            continue
        spans = []
        for item in rec.get("ner", []):
            ok = isinstance(item, (list, tuple)) and len(item) == 3 and all(isinstance(i, int) for i in item[:2])
            if not ok or not (0 <= item[0] <= item[1] < len(words)):
                rejects.add(path, where, f"span out of range or malformed: {item} for {len(words)} words", item)
                continue
            spans.append((item[0], item[1], str(item[2])))
        yield words_to_example(str(rec.get("id", f"{path.name}-{where}")), words, spans)


def write_json(examples: Iterable[Example], path: str | Path) -> Path:
    out = []
    for ex in examples:
        words, spans = example_to_words(ex)
        out.append({"id": ex.id, "tokenized_text": words, "ner": [list(s) for s in spans]})
    Path(path).write_text(json.dumps(out, ensure_ascii=False) + "\n", encoding="utf-8")
    return Path(path)
