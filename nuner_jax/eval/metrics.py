"""NER metrics, each labelled: seqeval entity micro-F1 (strict IOB2 and default/conlleval-like)
and the paper's macro token-level F1 (per-type F1 over word tokens, averaged over types)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def io_to_iob2(labels: Sequence[str]) -> list[str]:
    """Token type labels ('O' or a type) -> IOB2; a run of one type is one entity."""
    out, prev = [], "O"
    for lab in labels:
        if lab == "O":
            out.append("O")
        else:
            out.append(("I-" if prev == lab else "B-") + lab)
        prev = lab
    return out


def spans_to_iob2(n_words: int, spans) -> list[str]:
    tags = ["O"] * n_words
    for first, last, kind in sorted(spans):
        if tags[first] != "O":
            continue  # nested gold span: the outer one keeps the tokens
        tags[first] = f"B-{kind}"
        for j in range(first + 1, last + 1):
            tags[j] = f"I-{kind}"
    return tags


def macro_token_f1(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], types: Sequence[str]) -> float:
    """Token-level F1 of each entity type (IO labels), macro-averaged over `types`."""
    g = np.concatenate([np.asarray(x, dtype=object) for x in gold])
    p = np.concatenate([np.asarray(x, dtype=object) for x in pred])
    f1s = []
    for t in types:
        tp = float(((g == t) & (p == t)).sum())
        fp = float(((g != t) & (p == t)).sum())
        fn = float(((g == t) & (p != t)).sum())
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(f1s)) if f1s else 0.0


def entity_f1(gold_iob2: list[list[str]], pred_iob2: list[list[str]]) -> dict[str, float]:
    from seqeval.metrics import f1_score
    from seqeval.scheme import IOB2

    return {
        "entity_f1_strict": float(f1_score(gold_iob2, pred_iob2, mode="strict", scheme=IOB2, zero_division=0)),
        "entity_f1_default": float(f1_score(gold_iob2, pred_iob2, zero_division=0)),
    }
