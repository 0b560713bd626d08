"""NuNER's objective: binary cross-entropy of every token against every concept slot.

Padding, special tokens and empty concept slots are masked out. Variants worth ablating:
`pos_weight` (positives are rare: ~1 in 100 pairs), `balanced` (positive and negative pairs
weigh equally), `focal` (down-weights easy pairs).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

VARIANTS = ("bce", "balanced", "focal")


@dataclasses.dataclass(frozen=True)
class LossConfig:
    variant: str = "bce"
    pos_weight: float = 1.0
    focal_gamma: float = 2.0

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"loss variant must be one of {VARIANTS}, got {self.variant!r}")


def pair_mask(token_mask: jax.Array, concept_mask: jax.Array) -> jax.Array:
    return token_mask[:, :, None] & concept_mask[None, None, :]


def concept_bce(
    logits: jax.Array, labels: jax.Array, token_mask: jax.Array, concept_mask: jax.Array, cfg: LossConfig
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Mean loss over valid (token, concept) pairs, and decision counts for precision/recall."""
    logits = logits.astype(jnp.float32)
    y = labels.astype(jnp.float32)
    mask = pair_mask(token_mask, concept_mask).astype(jnp.float32)
    log_p, log_not_p = jax.nn.log_sigmoid(logits), jax.nn.log_sigmoid(-logits)
    pos_loss, neg_loss = -y * log_p, -(1.0 - y) * log_not_p
    if cfg.variant == "focal":
        p = jnp.exp(log_p)
        pos_loss = pos_loss * (1.0 - p) ** cfg.focal_gamma
        neg_loss = neg_loss * p**cfg.focal_gamma
    n_pairs = mask.sum()
    n_pos = (y * mask).sum()
    if cfg.variant == "balanced":
        loss = (pos_loss * mask).sum() / jnp.maximum(n_pos, 1.0) + (neg_loss * mask).sum() / jnp.maximum(
            n_pairs - n_pos, 1.0
        )
    else:
        loss = ((cfg.pos_weight * pos_loss + neg_loss) * mask).sum() / jnp.maximum(n_pairs, 1.0)
    predicted = (logits > 0).astype(jnp.float32) * mask
    stats = {
        "tp": (predicted * y).sum(),
        "fp": (predicted * (1.0 - y)).sum(),
        "fn": ((1.0 - predicted) * y * mask).sum(),
        "pairs": n_pairs,
        "positives": n_pos,
    }
    return loss, stats


def decision_scores(stats: dict) -> dict[str, float]:
    """Precision/recall/F1 of the token-concept decisions (logit > 0) from summed counts."""
    tp, fp, fn = float(stats["tp"]), float(stats["fp"]), float(stats["fn"])
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}
