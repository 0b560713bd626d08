"""CoNLL/BIO column files: one `token tag` per line (tab or space; tag last or first), blank line
between sentences, `-DOCSTART-` lines skipped. Tabs are split so that types may contain spaces."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from nuner_jax.data.example import Example, Rejects
from nuner_jax.data.formats.bio import tags_to_word_spans, word_spans_to_tags
from nuner_jax.data.formats.lines import utf8_lines
from nuner_jax.data.formats.word_level import example_to_words, words_to_example

_TAG = re.compile(r"^(O|[BIES]-.+)$")


def _columns(line: str) -> list[str]:
    return line.split("\t") if "\t" in line else line.split()


def _detect_tag_position(path: Path, rejects: Rejects) -> str:
    last = first = 0
    for _, line in utf8_lines(path, Rejects()):
        cols = _columns(line)
        if len(cols) >= 2 and not cols[0].startswith("-DOCSTART-"):
            last += bool(_TAG.match(cols[-1]))
            first += bool(_TAG.match(cols[0]))
            if last + first > 200:
                break
    return "first" if first > last else "last"


def read_conll(path: Path, rejects: Rejects, tag_position: str = "auto") -> Iterator[Example]:
    if tag_position == "auto":
        tag_position = _detect_tag_position(path, rejects)
    words: list[str] = []
    tags: list[str] = []
    start_line = 1
    block_index = 0

    def flush() -> Example | None:
        nonlocal block_index
        if not words:
            return None
        record_id = f"{path.name}-{block_index}"
        block_index += 1
        try:
            spans, warnings = tags_to_word_spans(tags)
        except ValueError as e:
            rejects.add(path, start_line, f"bad tag in sentence starting here: {e}", list(zip(words, tags)))
            return None
        for w in warnings:
            rejects.add(path, start_line, f"tag repaired (span kept): {w}")
        return words_to_example(record_id, words, spans)

    for number, line in utf8_lines(path, rejects):
        if not line.strip():
            ex = flush()
            if ex is not None:
                yield ex
            words, tags = [], []
            continue
        cols = _columns(line)
        if cols[0].startswith("-DOCSTART-"):
            continue
        if len(cols) < 2:
            rejects.add(path, number, "line has one column; expected token and tag", line)
            continue
        token, tag = (cols[0], cols[-1]) if tag_position == "last" else (cols[-1], cols[0])
        if not words:
            start_line = number
        words.append(token)
        tags.append(tag.strip())
    ex = flush()
    if ex is not None:
        yield ex


def write_conll(examples: Iterable[Example], path: str | Path) -> Path:
    """`token<TAB>tag` lines, IOB2, blank line between sentences."""
    path = Path(path)
    with path.open("w", encoding="utf-8") as f:
        for ex in examples:
            words, spans = example_to_words(ex)
            for w, t in zip(words, word_spans_to_tags(len(words), spans)):
                f.write(f"{w}\t{t}\n")
            f.write("\n")
    return path
