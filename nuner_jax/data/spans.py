"""Locating LLM-given entity strings in their sentence, and turning words into text with offsets.

LLMs count badly, so NuNER asks for strings, not offsets: a string matches at every occurrence
that starts and ends on a word boundary (so `Cuba` is not found inside `Cuban`).
"""

from __future__ import annotations

from collections.abc import Sequence


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def find_occurrences(text: str, needle: str) -> list[tuple[int, int]]:
    """Every (start, end) where `needle` occurs in `text` on word boundaries."""
    if not needle:
        return []
    found = []
    pos = text.find(needle)
    while pos != -1:
        end = pos + len(needle)
        left_ok = pos == 0 or not (_is_word_char(text[pos - 1]) and _is_word_char(needle[0]))
        right_ok = end == len(text) or not (_is_word_char(text[end]) and _is_word_char(needle[-1]))
        if left_ok and right_ok:
            found.append((pos, end))
        pos = text.find(needle, pos + 1)
    return found


def words_to_text(words: Sequence[str]) -> tuple[str, list[tuple[int, int]]]:
    """Join words with single spaces; return the text and each word's (start, end) offsets."""
    offsets, pos = [], 0
    for w in words:
        offsets.append((pos, pos + len(w)))
        pos += len(w) + 1
    return " ".join(words), offsets
