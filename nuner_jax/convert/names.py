"""The explicit name table between transformers' BERT/RoBERTa tensors and our Flax parameters.

One row per tensor: (Flax path, Hugging Face name, transpose?). PyTorch `nn.Linear` stores
(out, in) weights; Flax `Linear` kernels are (in, out), hence the transposes.
"""

from __future__ import annotations

from typing import NamedTuple

from nuner_jax.models.config import EncoderConfig

FlaxPath = tuple[str | int, ...]


class NameRow(NamedTuple):
    flax_path: FlaxPath
    hf_name: str
    transpose: bool


# Tensors that transformers checkpoints carry but that are not encoder parameters.
IGNORED_HF_PREFIXES = ("lm_head.", "cls.", "qa_outputs.", "classifier.")
IGNORED_HF_SUFFIXES = ("embeddings.position_ids", "embeddings.token_type_ids")
MODEL_PREFIXES = ("bert.", "roberta.")


def _linear(flax_prefix: FlaxPath, hf_prefix: str) -> list[NameRow]:
    return [
        NameRow(flax_prefix + ("kernel",), hf_prefix + ".weight", True),
        NameRow(flax_prefix + ("bias",), hf_prefix + ".bias", False),
    ]


def _norm(flax_prefix: FlaxPath, hf_prefix: str) -> list[NameRow]:
    return [
        NameRow(flax_prefix + ("scale",), hf_prefix + ".weight", False),
        NameRow(flax_prefix + ("bias",), hf_prefix + ".bias", False),
    ]


def encoder_name_table(cfg: EncoderConfig) -> list[NameRow]:
    """Every encoder tensor, named both ways, in transformers' order."""
    rows = [
        NameRow(("embeddings", "word_embeddings", "embedding"), "embeddings.word_embeddings.weight", False),
        NameRow(("embeddings", "position_embeddings", "embedding"), "embeddings.position_embeddings.weight", False),
        NameRow(
            ("embeddings", "token_type_embeddings", "embedding"), "embeddings.token_type_embeddings.weight", False
        ),
        *_norm(("embeddings", "layer_norm"), "embeddings.LayerNorm"),
    ]
    for i in range(cfg.num_layers):
        fl: FlaxPath = ("layers", i)
        hf = f"encoder.layer.{i}"
        rows += _linear(fl + ("attention", "query"), f"{hf}.attention.self.query")
        rows += _linear(fl + ("attention", "key"), f"{hf}.attention.self.key")
        rows += _linear(fl + ("attention", "value"), f"{hf}.attention.self.value")
        rows += _linear(fl + ("attention", "output"), f"{hf}.attention.output.dense")
        rows += _norm(fl + ("attention_norm",), f"{hf}.attention.output.LayerNorm")
        rows += _linear(fl + ("intermediate",), f"{hf}.intermediate.dense")
        rows += _linear(fl + ("output",), f"{hf}.output.dense")
        rows += _norm(fl + ("output_norm",), f"{hf}.output.LayerNorm")
    if cfg.with_pooler:
        rows += _linear(("pooler", "dense"), "pooler.dense")
    return rows


def strip_model_prefix(names: list[str]) -> tuple[str, dict[str, str]]:
    """Detect a `bert.`/`roberta.` prefix (task checkpoints) and map bare names to stored names."""
    for prefix in MODEL_PREFIXES:
        if any(n.startswith(prefix + "embeddings.") for n in names):
            return prefix, {n[len(prefix):]: n for n in names if n.startswith(prefix)}
    return "", {n: n for n in names}


def is_ignored(hf_name: str) -> bool:
    return hf_name.startswith(IGNORED_HF_PREFIXES) or hf_name.endswith(IGNORED_HF_SUFFIXES)
