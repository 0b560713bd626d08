"""Readers and writers for the NER formats people have; all produce `Example`s with char offsets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from nuner_jax.data.example import DataFormatError, Example, Rejects
from nuner_jax.data.formats import conll, gliner, hf_tokens, nuner

READERS = {
    "nuner-jsonl": nuner.read_jsonl,
    "nuner-csv": nuner.read_csv,
    "gliner": gliner.read_json,
    "conll": conll.read_conll,
    "hf-tokens": hf_tokens.read_jsonl,
}


def detect_format(path: Path) -> str:
    """Guess the format from the name, then from the first bytes."""
    name = path.name.lower()
    if name.endswith(".csv"):
        return "nuner-csv"
    if name.endswith((".jsonl", ".json")):
        pass
    elif name.endswith((".txt", ".tsv", ".conll", ".iob2", ".bio")) or "." not in name or name.startswith("btc."):
        return "conll"
    head = path.open("rb").read(4096).decode("utf-8", errors="replace").lstrip()
    if not head:
        return "nuner-jsonl"  # an empty file holds no record in any format
    if head.startswith("["):
        return "gliner"
    if '"tokens"' in head and '"ner_tags"' in head:
        return "hf-tokens"
    if '"input"' in head and '"output"' in head:
        return "nuner-jsonl"
    if '"tokenized_text"' in head:
        return "gliner"
    raise DataFormatError(path, 1, "cannot tell the format; pass format= one of " + ", ".join(READERS))


def read_examples(path: str | Path, format: str | None = None, rejects: Rejects | None = None, **kwargs) -> Iterator[Example]:
    """Read any supported file; left-out records go to `rejects` (never silently dropped)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    fmt = format or detect_format(path)
    if fmt not in READERS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {sorted(READERS)}")
    return READERS[fmt](path, rejects if rejects is not None else Rejects(), **kwargs)
