"""Zero-shot NER evaluated on labelled benchmarks: each dataset's entity types, written as natural
label names, go through the concept encoder; the tagger's character spans are mapped back to the
benchmark's words and scored with seqeval entity F1 (strict IOB2 and default) and the paper's
macro token F1, at several thresholds from one scoring pass."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from tqdm.auto import tqdm

from nuner_jax.data.spans import words_to_text
from nuner_jax.eval.benchmarks import Sentence, load_benchmark
from nuner_jax.eval.fewshot import cap_test, word_labels
from nuner_jax.eval.metrics import entity_f1, macro_token_f1, spans_to_iob2
from nuner_jax.eval.zeroshot import EntitySpan, ZeroShotTagger

# Benchmark type ids -> label names a concept encoder can read.
LABEL_NAMES = {
    "PER": "person", "LOC": "location", "ORG": "organization", "MISC": "miscellaneous",
    "misc": "miscellaneous", "programlang": "programming language", "politicalparty": "political party",
    "musicalartist": "musical artist", "musicalinstrument": "musical instrument", "musicgenre": "music genre",
    "literarygenre": "literary genre", "academicjournal": "academic journal",
    "astronomicalobject": "astronomical object", "chemicalcompound": "chemical compound",
    "chemicalelement": "chemical element", "metrics": "metric", "cell_line": "cell line", "cell_type": "cell type",
}


def label_name(entity_type: str, overrides: dict[str, str] | None = None) -> str:
    if overrides and entity_type in overrides:
        return overrides[entity_type]
    if entity_type in LABEL_NAMES:
        return LABEL_NAMES[entity_type]
    return re.sub(r"[_-]+", " ", entity_type).strip().lower()


def spans_to_word_tags(spans: Sequence[EntitySpan], offsets: Sequence[tuple[int, int]],
                       type_of: dict[str, str]) -> list[str]:
    """IOB2 word tags: a word belongs to the span its characters overlap (first one wins)."""
    tags = ["O"] * len(offsets)
    for span in spans:
        inside = [i for i, (s, e) in enumerate(offsets) if s < span.end and e > span.start and tags[i] == "O"]
        for j, i in enumerate(inside):
            tags[i] = ("B-" if j == 0 else "I-") + type_of[span.label]
    return tags


def evaluate_dataset(tagger: ZeroShotTagger, dataset: str, test: list[Sentence], thresholds: Sequence[float],
                     label_overrides: dict[str, str] | None = None) -> list[dict]:
    if not test:
        raise ValueError(f"{dataset}: empty test split")
    types = sorted({t for s in test for t in s.types})
    if not types:
        raise ValueError(f"{dataset}: the test split has no entities, so there are no label names to use")
    names = [label_name(t, label_overrides) for t in types]
    if len(set(names)) != len(names):
        raise ValueError(f"{dataset}: two entity types map to one label name: {dict(zip(types, names))}")
    type_of = dict(zip(names, types))
    texts, offsets = zip(*(words_to_text(s.words) for s in test))
    scored = tagger.token_scores(list(texts), names)
    gold_iob2 = [spans_to_iob2(len(s.words), s.spans) for s in test]
    gold_io = [word_labels(s) for s in test]
    rows = []
    for th in thresholds:
        pred_iob2 = [spans_to_word_tags(tagger.decode(text, toks, probs, names, threshold=th), offs, type_of)
                     for text, offs, (toks, probs) in zip(texts, offsets, scored)]
        pred_io = [[t if t == "O" else t[2:] for t in p] for p in pred_iob2]
        rows.append({
            "dataset": dataset, "threshold": th, "test_sentences": len(test), "labels": dict(zip(types, names)),
            **{m: 100 * v for m, v in entity_f1(gold_iob2, pred_iob2).items()},
            "macro_token_f1": 100 * macro_token_f1(gold_io, pred_io, types),
        })
    return rows


def evaluate(model_dir: str, datasets: Sequence[str], thresholds: Sequence[float] = (0.3, 0.5, 0.7),
             test_cap: int = 1000, data_root: str | None = None, batch_size: int = 32,
             label_overrides: dict[str, str] | None = None) -> list[dict]:
    tagger = ZeroShotTagger(model_dir, batch_size=batch_size)
    rows = []
    for d in tqdm(datasets, desc="zero-shot", unit="dataset"):
        _, test = load_benchmark(d, data_root)
        rows += evaluate_dataset(tagger, d, cap_test(test, test_cap), thresholds, label_overrides)
    return rows


def markdown(rows: list[dict], metric: str = "entity_f1_strict") -> str:
    datasets = sorted({r["dataset"] for r in rows})
    thresholds = sorted({r["threshold"] for r in rows})
    lines = [f"| threshold | {' | '.join(datasets)} | mean |", "|---" * (len(datasets) + 2) + "|"]
    for th in thresholds:
        vals = [next(r[metric] for r in rows if r["dataset"] == d and r["threshold"] == th) for d in datasets]
        lines.append(f"| {th:g} | " + " | ".join(f"{v:.1f}" for v in vals) + f" | {np.mean(vals):.1f} |")
    return "\n".join(lines) + "\n"
