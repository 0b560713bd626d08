"""Model FLOPs of the NuNER step (matmuls only, as executed shapes) and this machine's measured
float32 matmul peak, for model FLOPs utilisation (MFU)."""

from __future__ import annotations

import time

from nuner_jax.models.config import EncoderConfig


def encoder_layer_flops(cfg: EncoderConfig, rows: int, length: int) -> float:
    """Forward matmul FLOPs of one layer on (rows, length): projections, FFN, scores and context."""
    h, f, t = cfg.hidden_size, cfg.intermediate_size, rows * length
    return 2.0 * t * (4 * h * h + 2 * h * f) + 4.0 * t * length * h


def step_flops(text: EncoderConfig, concept: EncoderConfig, text_shape: tuple[int, int],
               concept_shape: tuple[int, int], slots: int, frozen_text_layers: int) -> float:
    """Forward + backward FLOPs of one NuNER update.

    Frozen bottom layers of the text tower run forward only (nothing below them needs gradients);
    trainable layers cost 3x forward (forward, input gradients, weight gradients)."""
    text_layer = encoder_layer_flops(text, *text_shape)
    concept_layer = encoder_layer_flops(concept, *concept_shape)
    trainable = text.num_layers - frozen_text_layers
    text_total = text_layer * (frozen_text_layers + 3 * trainable)
    concept_total = concept_layer * 3 * concept.num_layers
    score = 3 * 2.0 * text_shape[0] * text_shape[1] * slots * text.hidden_size
    return text_total + concept_total + score


def jax_matmul_peak(n: int = 2048, repeats: int = 10, dtype: str = "float32") -> float:
    """Best FLOP/s of an n x n matmul under XLA on this host's default device."""
    import jax
    import jax.numpy as jnp

    a = jax.random.normal(jax.random.key(0), (n, n), jnp.dtype(dtype))
    b = jax.random.normal(jax.random.key(1), (n, n), jnp.dtype(dtype))
    mm = jax.jit(lambda x, y: x @ y)
    mm(a, b).block_until_ready()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        mm(a, b).block_until_ready()
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best


def torch_matmul_peak(n: int = 2048, repeats: int = 10, dtype: str = "float32") -> float:
    import torch

    dev = "cuda" if torch.cuda.is_available() else "cpu"
    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
    dt = getattr(torch, dtype)
    a, b = torch.randn(n, n, device=dev, dtype=dt), torch.randn(n, n, device=dev, dtype=dt)
    a @ b
    sync()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        sync()
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best
