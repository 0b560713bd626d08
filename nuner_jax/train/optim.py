"""The optimiser: AdamW with linear warmup and cosine (or linear) decay, global-norm clipping,
optional gradient accumulation. Biases and LayerNorm scales get no weight decay."""

from __future__ import annotations

import dataclasses

import jax
import optax


@dataclasses.dataclass(frozen=True)
class OptimConfig:
    learning_rate: float = 5e-5
    warmup_steps: int = 100
    decay: str = "cosine"  # cosine | linear | constant
    end_factor: float = 0.1  # final lr = end_factor * learning_rate
    weight_decay: float = 0.01
    b1: float = 0.9
    b2: float = 0.999
    clip_norm: float = 1.0  # 0 disables clipping
    accumulate_steps: int = 1


def schedule(cfg: OptimConfig, total_steps: int) -> optax.Schedule:
    warm = max(0, min(cfg.warmup_steps, total_steps - 1))
    rest = max(1, total_steps - warm)
    end = cfg.learning_rate * cfg.end_factor
    if cfg.decay == "cosine":
        decay = optax.cosine_decay_schedule(cfg.learning_rate, rest, alpha=cfg.end_factor)
    elif cfg.decay == "linear":
        decay = optax.linear_schedule(cfg.learning_rate, end, rest)
    elif cfg.decay == "constant":
        decay = optax.constant_schedule(cfg.learning_rate)
    else:
        raise ValueError(f"decay must be cosine, linear or constant, got {cfg.decay!r}")
    if warm == 0:
        return decay
    return optax.join_schedules([optax.linear_schedule(0.0, cfg.learning_rate, warm), decay], [warm])


def _decay_mask(params):
    return jax.tree_util.tree_map_with_path(
        lambda path, x: x.ndim > 1, params
    )


def make_optimizer(cfg: OptimConfig, total_steps: int) -> optax.GradientTransformation:
    tx = optax.adamw(schedule(cfg, total_steps), b1=cfg.b1, b2=cfg.b2, weight_decay=cfg.weight_decay,
                     mask=_decay_mask)
    if cfg.clip_norm > 0:
        tx = optax.chain(optax.clip_by_global_norm(cfg.clip_norm), tx)
    if cfg.accumulate_steps > 1:
        tx = optax.MultiSteps(tx, every_k_schedule=cfg.accumulate_steps)
    return tx
