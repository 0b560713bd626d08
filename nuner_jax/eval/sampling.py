"""k-shot sampling: the smallest greedy set of training sentences with k sentences of every type.

Seeded and independent of the model, so every encoder compared sees the same sample. A type with
fewer than k sentences in the pool contributes all it has and is reported as short.
"""

from __future__ import annotations

import numpy as np

from nuner_jax.eval.benchmarks import Sentence


def sample_k_shot(pool: list[Sentence], k: int, seed: int) -> tuple[list[int], dict[str, int]]:
    """Indices into `pool`, and {type: sentences available} for types with fewer than k."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    types = sorted({t for s in pool for t in s.types})
    if not types:
        raise ValueError("the training pool has no entities")
    available = {t: sum(t in s.types for s in pool) for t in types}
    need = {t: min(k, available[t]) for t in types}
    have = dict.fromkeys(types, 0)
    chosen = []
    for i in np.random.default_rng(seed).permutation(len(pool)):
        sent_types = pool[i].types
        if any(have[t] < need[t] for t in sent_types):
            chosen.append(int(i))
            for t in sent_types:
                have[t] += 1
            if all(have[t] >= need[t] for t in types):
                break
    short = {t: n for t, n in available.items() if n < k}
    return sorted(chosen), short
