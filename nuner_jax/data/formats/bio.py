"""BIO tags <-> word-level spans, shared by the CoNLL and HF-tokens formats."""

from __future__ import annotations

from collections.abc import Sequence


def tags_to_word_spans(tags: Sequence[str]) -> tuple[list[tuple[int, int, str]], list[str]]:
    """IOB2 (and lenient IOB1) tags -> [(first_word, last_word_inclusive, type)], plus warnings.

    An `I-X` that does not continue an `X` span starts a new span (conlleval's behaviour) and is
    reported in the warnings.
    """
    spans: list[tuple[int, int, str]] = []
    warnings: list[str] = []
    current: list | None = None
    for i, tag in enumerate(tags):
        if tag == "O" or not tag:
            current = None
            continue
        if len(tag) < 3 or tag[1] != "-" or tag[0] not in "BIES":
            raise ValueError(f"word {i}: tag {tag!r} is not O, B-X, I-X, E-X or S-X")
        prefix, kind = tag[0], tag[2:]
        if prefix in "BS" or current is None or current[2] != kind:
            if prefix in "IE" and (current is None or current[2] != kind):
                warnings.append(f"word {i}: {tag} does not continue a {kind} span; starts a new one")
            current = [i, i, kind]
            spans.append(current)  # type: ignore[arg-type]
        else:
            current[1] = i
        if prefix in "ES":
            current = None
    return [tuple(s) for s in spans], warnings  # type: ignore[misc]


def word_spans_to_tags(n_words: int, spans: Sequence[tuple[int, int, str]]) -> list[str]:
    """[(first, last_inclusive, type)] -> IOB2 tags; overlapping spans cannot be written."""
    tags = ["O"] * n_words
    for first, last, kind in sorted(spans):
        if any(t != "O" for t in tags[first : last + 1]):
            raise ValueError(f"span words {first}..{last} ({kind}) overlaps another span; BIO cannot hold it")
        tags[first] = f"B-{kind}"
        for j in range(first + 1, last + 1):
            tags[j] = f"I-{kind}"
    return tags
