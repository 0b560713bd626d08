"""NuNER's two towers: a text encoder that gives a vector per token and a concept encoder that
gives a vector per concept name; their dot products (scaled, shifted) are the logits.

After pre-training the concept encoder is dropped (or kept for zero-shot tagging).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from nuner_jax.models.encoder import Encoder


@dataclasses.dataclass(frozen=True)
class HeadConfig:
    token_layers: tuple[int, ...] = (-1,)  # hidden_states indices concatenated; (-1, -7) is NuNER's "two emb"
    concept_pooling: str = "mean"  # "mean" over name tokens, or "first" ([CLS]/<s>)
    projection_dim: int = 0  # 0: no projection heads (token and concept widths must then match)
    learn_scale: bool = True
    init_scale: float = 1.0  # logit = scale * <token, concept> + bias
    init_bias: float = 0.0
    normalize: bool = False  # cosine similarity instead of a dot product

    def __post_init__(self) -> None:
        if self.concept_pooling not in ("mean", "first"):
            raise ValueError(f"concept_pooling must be 'mean' or 'first', got {self.concept_pooling!r}")


def token_features(hidden_states: tuple[jax.Array, ...], layers: tuple[int, ...]) -> jax.Array:
    """Concatenate the chosen hidden states along the feature axis."""
    n = len(hidden_states)
    for i in layers:
        if not -n <= i < n:
            raise ValueError(f"token layer {i} out of range for {n} hidden states")
    return jnp.concatenate([hidden_states[i] for i in layers], axis=-1)


def pool_concepts(states: jax.Array, token_slot: jax.Array, first: jax.Array, num_slots: int, how: str) -> jax.Array:
    """One vector per concept slot from packed name rows: mean of its tokens, or its first token."""
    flat = states.reshape(-1, states.shape[-1]).astype(jnp.float32)
    if how == "first":
        return flat[first]
    slot = token_slot.reshape(-1)
    sums = jax.ops.segment_sum(flat, slot, num_segments=num_slots + 1)[:num_slots]
    counts = jax.ops.segment_sum(jnp.ones_like(slot, jnp.float32), slot, num_segments=num_slots + 1)[:num_slots]
    return sums / jnp.maximum(counts, 1.0)[:, None]


def concept_inputs(names: jax.Array, attention: jax.Array) -> dict[str, jax.Array]:
    """The packed layout for unpacked names (one name per row, e.g. label names at inference)."""
    n, length = names.shape
    att = attention.astype(bool)
    return {
        "concept_ids": names,
        "concept_segments": att.astype(jnp.int32),
        "concept_token_slot": jnp.where(att, jnp.arange(n)[:, None], n).astype(jnp.int32),
        "concept_first": (jnp.arange(n) * length).astype(jnp.int32),
    }


class DualEncoder(nnx.Module):
    def __init__(self, text_encoder: Encoder, concept_encoder: Encoder, head: HeadConfig, *, rngs: nnx.Rngs):
        self.text_encoder = text_encoder
        self.concept_encoder = concept_encoder
        self.head = head
        token_dim = text_encoder.cfg.hidden_size * len(head.token_layers)
        concept_dim = concept_encoder.cfg.hidden_size
        if head.projection_dim:
            self.token_projection = nnx.Linear(token_dim, head.projection_dim, rngs=rngs)
            self.concept_projection = nnx.Linear(concept_dim, head.projection_dim, rngs=rngs)
        else:
            if token_dim != concept_dim:
                raise ValueError(
                    f"token features ({token_dim}) and concept vectors ({concept_dim}) differ in width; "
                    "set projection_dim or use one token layer"
                )
            self.token_projection = self.concept_projection = None
        scale_cls = nnx.Param if head.learn_scale else nnx.Variable
        self.log_scale = scale_cls(jnp.log(jnp.asarray(head.init_scale, jnp.float32)))
        self.bias = scale_cls(jnp.asarray(head.init_bias, jnp.float32))

    def encode_tokens(self, input_ids, segment_ids=None, attention_mask=None) -> jax.Array:
        out = self.text_encoder(input_ids, attention_mask=attention_mask, segment_ids=segment_ids)
        x = token_features(out.hidden_states, self.head.token_layers)
        if self.token_projection is not None:
            x = self.token_projection(x)
        return self._maybe_normalize(x.astype(jnp.float32))

    def encode_concepts(self, concept_ids, concept_segments, concept_token_slot, concept_first) -> jax.Array:
        """(num_slots, dim) from packed name rows (see `concept_inputs` for one name per row)."""
        out = self.concept_encoder(concept_ids, segment_ids=concept_segments)
        x = pool_concepts(out.last_hidden_state, concept_token_slot, concept_first, concept_first.shape[0],
                          self.head.concept_pooling)
        if self.concept_projection is not None:
            x = self.concept_projection(x)
        return self._maybe_normalize(x.astype(jnp.float32))

    def _maybe_normalize(self, x: jax.Array) -> jax.Array:
        return x / jnp.linalg.norm(x, axis=-1, keepdims=True).clip(1e-6) if self.head.normalize else x

    def __call__(self, batch: dict[str, jax.Array]) -> jax.Array:
        """Logits (batch, length, concepts) for every token against every concept slot."""
        tokens = self.encode_tokens(batch["input_ids"], segment_ids=batch["segment_ids"])
        concepts = self.encode_concepts(batch["concept_ids"], batch["concept_segments"],
                                        batch["concept_token_slot"], batch["concept_first"])
        return self.score(tokens, concepts)

    def score(self, tokens: jax.Array, concepts: jax.Array) -> jax.Array:
        scale = jnp.exp(self.log_scale.get_value())
        return jnp.einsum("bld,cd->blc", tokens, concepts) * scale + self.bias.get_value()
