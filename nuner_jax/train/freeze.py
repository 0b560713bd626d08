"""Which parameters train: regex rules on '/'-joined parameter paths (big_vision style).

NuNER freezes the bottom half of the text encoder "for training stability"; `bottom_layers_rule`
writes that as a rule, and any other rule can be added in the config.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from flax import nnx


def path_string(path: Sequence) -> str:
    return "/".join(str(getattr(p, "key", getattr(p, "idx", p))) for p in path)


def bottom_layers_rule(tower: str, num_frozen: int) -> list[str]:
    """Rules freezing the embeddings and layers 0..num_frozen-1 of a tower (none when num_frozen is 0)."""
    if num_frozen <= 0:
        return []
    layers = "|".join(str(i) for i in range(num_frozen))
    return [rf"^{tower}/embeddings/", rf"^{tower}/layers/({layers})/"]


class FrozenRules:
    """An nnx filter: True for parameters matched by any rule."""

    def __init__(self, patterns: Sequence[str]):
        self.patterns = [re.compile(p) for p in patterns]

    def __call__(self, path, value) -> bool:
        if not isinstance(value, nnx.Param):
            return False
        s = path_string(path)
        return any(p.search(s) for p in self.patterns)


def trainable_filter(frozen: FrozenRules):
    """Params not matched by the frozen rules."""
    return nnx.All(nnx.Param, nnx.Not(frozen))
