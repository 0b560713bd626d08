"""Word-level records (tokens + word spans) <-> `Example`s with exact character offsets."""

from __future__ import annotations

from collections.abc import Sequence

from nuner_jax.data.example import Example, Span
from nuner_jax.data.spans import words_to_text


def words_to_example(record_id: str, words: Sequence[str], word_spans: Sequence[tuple[int, int, str]]) -> Example:
    """Words are joined with single spaces; a span covers its first to last word (inclusive)."""
    text, offsets = words_to_text(words)
    spans = tuple(Span(offsets[a][0], offsets[b][1], kind) for a, b, kind in word_spans)
    return Example(record_id, text, spans)


def example_to_words(ex: Example) -> tuple[list[str], list[tuple[int, int, str]]]:
    """Inverse of `words_to_example`; fails on spans that do not start and end on word edges."""
    words = ex.text.split(" ")
    starts, ends, pos = {}, {}, 0
    for i, w in enumerate(words):
        starts[pos] = i
        ends[pos + len(w)] = i
        pos += len(w) + 1
    word_spans = []
    for s in ex.spans:
        if s.start not in starts or s.end not in ends:
            raise ValueError(f"{ex.id}: span [{s.start}, {s.end}) {ex.span_text(s)!r} does not fall on word edges")
        word_spans.append((starts[s.start], ends[s.end], s.concept))
    return words, word_spans
