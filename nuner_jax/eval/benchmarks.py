"""The downstream NER benchmarks: where their splits live and how to read them as words + tags."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from nuner_jax.data.example import Rejects
from nuner_jax.data.formats import read_examples
from nuner_jax.data.formats.word_level import example_to_words

DEFAULT_DATA_ROOT = Path(os.environ.get("NUNER_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))

# name -> (train file, test file), relative to the data root. BioNLP2004's train split is not in the
# shared data: its `devel` split (held-out slice of the original train data) serves as the train pool.
BENCHMARKS: dict[str, tuple[str, str]] = {
    **{f"crossner_{d}": (f"crossner/{d}/train.txt", f"crossner/{d}/test.txt")
       for d in ("ai", "literature", "music", "politics", "science")},
    "conll2003": ("conll2003/train.txt", "conll2003/test.txt"),
    "btc": ("broad_twitter_corpus/splits/btc.train", "broad_twitter_corpus/splits/btc.test"),
    "bionlp2004": ("bionlp2004_jnlpba/devel.tsv", "bionlp2004_jnlpba/test.tsv"),
}


@dataclasses.dataclass(frozen=True)
class Sentence:
    words: tuple[str, ...]
    spans: tuple[tuple[int, int, str], ...]  # (first word, last word inclusive, type)

    @property
    def types(self) -> set[str]:
        return {t for *_, t in self.spans}


def read_sentences(path: str | Path) -> list[Sentence]:
    rejects = Rejects()
    out = []
    for ex in read_examples(path, rejects=rejects):
        words, spans = example_to_words(ex)
        out.append(Sentence(tuple(words), tuple(spans)))
    return out


def load_benchmark(name: str, data_root: str | Path | None = None) -> tuple[list[Sentence], list[Sentence]]:
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; known: {sorted(BENCHMARKS)}")
    root = Path(data_root) if data_root else DEFAULT_DATA_ROOT
    train_rel, test_rel = BENCHMARKS[name]
    train, test = read_sentences(root / train_rel), read_sentences(root / test_rel)
    if not test:
        raise ValueError(f"{root / test_rel}: empty test split")
    return train, test
