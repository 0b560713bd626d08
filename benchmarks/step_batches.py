"""The same sentences and concept slots for both sides of the step benchmark.

- `packed_jax`: our pipeline's batch (sentences packed into fixed rows, concept names packed).
- `dynamic_torch`: the same sentences and slots as a PyTorch user batches them: one sentence per
  row padded to the longest in the batch, one concept name per row padded to the longest name.
- `equal_padded`: identical fixed-shape arrays for both sides (one sentence per row padded to
  max_length, every concept slot one row of concept_max_length): the like-for-like comparison.

`draw_batches` gives a run's arrays; `save_batches` / `load_batches` carry them to a machine
without the annotation data (a lent GPU) to replay the same steps there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nuner_jax.data.loader import LoaderConfig, PretrainBatches


def _names(loader: PretrainBatches, slots, n_valid: int, length: int | None) -> tuple[np.ndarray, np.ndarray]:
    names = loader.concept_name_ids(slots[:n_valid])
    width = length or max(len(n) for n in names)
    ids = np.full((n_valid, width), loader.pad_id, np.int32)
    att = np.zeros((n_valid, width), np.int32)
    for i, n in enumerate(names):
        ids[i, : len(n)] = n
        att[i, : len(n)] = 1
    return ids, att


def packed_jax(loader: PretrainBatches, step: int) -> dict[str, np.ndarray]:
    return loader.batch(step)


def dynamic_torch(loader: PretrainBatches, step: int) -> dict[str, np.ndarray]:
    """The packed step's sentences and valid concept slots, dynamically padded."""
    rows = loader.rows_of(step)
    one_per_row = [[r] for row in rows for r in row]
    b = loader.assemble(step, rows, one_per_row)
    longest = int((b["segment_ids"] > 0).sum(1).max())
    slots, _ = loader.concepts_of(step, rows)
    n_valid = int(b["concept_mask"].sum())
    ids, att = _names(loader, slots, n_valid, None)
    return {
        "input_ids": b["input_ids"][:, :longest],
        "attention_mask": (b["segment_ids"][:, :longest] > 0).astype(np.int32),
        "token_mask": b["token_mask"][:, :longest],
        "labels": b["labels"][:, :longest, :n_valid],
        "concept_ids": ids,
        "concept_attention": att,
        "concept_mask": np.ones(n_valid, bool),
    }


def equal_padded(loader: PretrainBatches, step: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(jax arrays, torch arrays) with identical shapes and contents; `loader` must not pack."""
    if loader.cfg.pack:
        raise ValueError("equal_padded needs a loader with pack=False")
    rows = loader.rows_of(step)
    b = loader.assemble(step, rows, rows)
    slots, _ = loader.concepts_of(step, rows)
    C, Lc = loader.cfg.max_concepts, loader.cfg.concept_max_length
    n_valid = int(b["concept_mask"].sum())
    ids = np.full((C, Lc), loader.pad_id, np.int32)
    att = np.zeros((C, Lc), np.int32)
    ids[:n_valid], att[:n_valid] = _names(loader, slots, n_valid, Lc)
    attention = (b["segment_ids"] > 0).astype(np.int32)
    torch_arrays = {
        "input_ids": b["input_ids"], "attention_mask": attention, "token_mask": b["token_mask"],
        "labels": b["labels"], "concept_ids": ids, "concept_attention": att, "concept_mask": b["concept_mask"],
    }
    jax_arrays = {
        "input_ids": b["input_ids"], "segment_ids": attention, "token_mask": b["token_mask"], "labels": b["labels"],
        "concept_ids": ids, "concept_segments": att,
        "concept_token_slot": np.where(att > 0, np.arange(C)[:, None], C).astype(np.int32),
        "concept_first": (np.arange(C) * Lc).astype(np.int32),
        "concept_mask": b["concept_mask"], "concept_overflow": b["concept_overflow"],
    }
    return jax_arrays, torch_arrays


def real_tokens(arrays: dict[str, np.ndarray]) -> int:
    """Non-pad text tokens (special tokens included, as both sides compute them)."""
    key = "segment_ids" if "segment_ids" in arrays else "attention_mask"
    return int((arrays[key] > 0).sum())


def loader_for(shards: str, s: dict, pack: bool) -> PretrainBatches:
    """The loader of one benchmark run: packed rows (ours) or one sentence per row."""
    if pack:
        cfg = LoaderConfig(batch_size=s["rows"], pack=True, max_concepts=s["max_concepts"],
                           num_negatives=s["negatives"])
    else:
        cfg = LoaderConfig(batch_size=s["sentences"], pack=False, max_concepts=s["padded_concepts"],
                           num_negatives=s["negatives"])
    return PretrainBatches(shards, "train", cfg)


def draw_batches(run: str, shards: str, s: dict, steps: int) -> tuple[list[dict], list[int]]:
    """The arrays of one run's steps (a warm-up step first) and the sentences in each."""
    loader = loader_for(shards, s, pack=run in ("jax-packed", "torch-dynamic"))
    if run == "jax-packed":
        batches = [packed_jax(loader, i) for i in range(steps + 1)]
        return batches, [sum(len(row) for row in loader.rows_of(i)) for i in range(steps + 1)]
    if run == "torch-dynamic":
        batches = [dynamic_torch(loader, i) for i in range(steps + 1)]
    else:
        batches = [equal_padded(loader, i)[0 if run == "jax-padded" else 1] for i in range(steps + 1)]
        return batches, [len(loader.rows_of(i)) for i in range(steps + 1)]
    return batches, [b["input_ids"].shape[0] for b in batches]


def save_batches(path: Path, batches: list[dict], sentences: list[int]) -> None:
    arrays = {f"{i}/{k}": v for i, b in enumerate(batches) for k, v in b.items()}
    np.savez_compressed(path, sentences=np.asarray(sentences), **arrays)


def load_batches(path: Path, steps: int) -> tuple[list[dict], list[int]]:
    with np.load(path) as f:
        sentences = f["sentences"].tolist()
        if len(sentences) < steps + 1:
            raise ValueError(f"{path}: holds {len(sentences) - 1} timed steps, --steps asks for {steps}")
        batches: list[dict] = [{} for _ in range(steps + 1)]
        for key in f.files:
            if key != "sentences" and int(key.split("/")[0]) <= steps:
                i, name = key.split("/", 1)
                batches[int(i)][name] = f[key]
    return batches, sentences[: steps + 1]
