"""Character spans -> token spans with a fast tokenizer's offsets, and long texts -> windows.

Overlapping and nested spans are kept. A text longer than the model's length is cut into windows
with a stride, never truncated; a span is kept in every window that holds it whole.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Sequence

from nuner_jax.data.example import Example


@dataclasses.dataclass(frozen=True)
class TokenisedWindow:
    example_id: str
    window: int
    input_ids: list[int]  # with special tokens
    char_offsets: list[tuple[int, int]]  # per token, (0, 0) for special tokens
    spans: list[tuple[int, int, int]]  # (first_token, last_token_inclusive, concept_id), token positions in input_ids


def char_span_to_tokens(offsets: Sequence[tuple[int, int]], start: int, end: int) -> tuple[int, int] | None:
    """First and last token overlapping [start, end); None if no token overlaps (e.g. only spaces)."""
    ends = [e for _, e in offsets]
    first = bisect.bisect_right(ends, start)
    last = first
    if first >= len(offsets) or offsets[first][0] >= end:
        return None
    while last + 1 < len(offsets) and offsets[last + 1][0] < end:
        last += 1
    return first, last


def window_starts(n_tokens: int, window: int, stride: int) -> list[int]:
    """Start positions of windows of `window` tokens, consecutive windows sharing `window - stride`."""
    if n_tokens <= window:
        return [0]
    starts = list(range(0, n_tokens - window, stride))
    starts.append(n_tokens - window)
    return starts


def tokenise_example(
    ex: Example,
    encoding,  # a tokenizers.Encoding of ex.text without special tokens
    concept_ids: Sequence[int | None],  # per span of ex, None when not in the vocabulary
    *,
    cls_id: int,
    sep_id: int,
    max_length: int,
    stride: int,
) -> tuple[list[TokenisedWindow], list[tuple[int, str]]]:
    """Windows of the example and the spans that fit no window (index, reason)."""
    ids, offsets = list(encoding.ids), [tuple(o) for o in encoding.offsets]
    body = max_length - 2
    token_spans: list[tuple[int, int, int, int]] = []  # first, last, concept, span index
    problems: list[tuple[int, str]] = []
    for k, (span, cid) in enumerate(zip(ex.spans, concept_ids)):
        if cid is None:
            continue
        tok = char_span_to_tokens(offsets, span.start, span.end)
        if tok is None:
            problems.append((k, "span covers no token"))
            continue
        if tok[1] - tok[0] + 1 > body:
            problems.append((k, f"span of {tok[1] - tok[0] + 1} tokens is longer than a window ({body})"))
            continue
        token_spans.append((tok[0], tok[1], cid, k))
    windows, placed = [], set()
    for w, start in enumerate(window_starts(len(ids), body, stride)):
        stop = start + body
        spans = [(a - start + 1, b - start + 1, c) for a, b, c, k in token_spans if a >= start and b < stop]
        placed.update(k for a, b, c, k in token_spans if a >= start and b < stop)
        windows.append(
            TokenisedWindow(
                ex.id, w, [cls_id, *ids[start:stop], sep_id], [(0, 0), *offsets[start:stop], (0, 0)], spans
            )
        )
    problems += [(k, "span crosses every window boundary; raise the stride overlap") for *_, k in token_spans
                 if k not in placed]
    return windows, problems
