"""The same sentences and concept slots for both sides of the step benchmark.

- `packed_jax`: our pipeline's batch (sentences packed into fixed rows, concept names packed).
- `dynamic_torch`: the same sentences and slots as a PyTorch user batches them: one sentence per
  row padded to the longest in the batch, one concept name per row padded to the longest name.
- `equal_padded`: identical fixed-shape arrays for both sides (one sentence per row padded to
  max_length, every concept slot one row of concept_max_length): the like-for-like comparison.
"""

from __future__ import annotations

import numpy as np

from nuner_jax.data.loader import PretrainBatches


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
