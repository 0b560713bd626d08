"""Encoder hyper-parameters, read from and written to Hugging Face `config.json` files.

BERT and RoBERTa share one architecture; the differences (position ids that start after the
padding index, one token type, layer-norm epsilon, GELU variant) are fields of this config.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

SUPPORTED_FAMILIES = ("bert", "roberta")
_GELU_VARIANTS = {"gelu": False, "gelu_new": True, "gelu_pytorch_tanh": True, "gelu_fast": True}


class UnsupportedModelError(ValueError):
    """Raised when a checkpoint's architecture is not a BERT-family encoder."""


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
    """Shape and numerics of a BERT-family encoder."""

    family: str = "bert"
    vocab_size: int = 30522
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: int = 3072
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    hidden_act: str = "gelu"
    pad_token_id: int = 0
    hidden_dropout: float = 0.1
    attention_dropout: float = 0.1
    with_pooler: bool = False
    # Numerics that are ours, not Hugging Face's.
    dtype: str = "float32"  # compute dtype; parameters always stay float32
    remat: bool = False

    def __post_init__(self) -> None:
        if self.family not in SUPPORTED_FAMILIES:
            raise UnsupportedModelError(
                f"model_type {self.family!r} is not supported; expected one of {SUPPORTED_FAMILIES}"
            )
        if self.hidden_act not in _GELU_VARIANTS:
            raise UnsupportedModelError(f"hidden_act {self.hidden_act!r} is not supported")
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}"
            )
        if self.dtype not in ("float32", "bfloat16"):
            raise ValueError(f"dtype must be float32 or bfloat16, got {self.dtype!r}")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def gelu_approximate(self) -> bool:
        return _GELU_VARIANTS[self.hidden_act]

    @property
    def position_offset(self) -> int:
        """RoBERTa numbers positions from pad_token_id + 1; BERT from 0."""
        return self.pad_token_id + 1 if self.family == "roberta" else 0

    @property
    def max_sequence_length(self) -> int:
        return self.max_position_embeddings - self.position_offset

    def replace(self, **changes: Any) -> "EncoderConfig":
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_hf_dict(cls, hf: dict[str, Any], **overrides: Any) -> "EncoderConfig":
        family = hf.get("model_type")
        if family not in SUPPORTED_FAMILIES:
            raise UnsupportedModelError(
                f"model_type {family!r} (architectures {hf.get('architectures')}) is not supported; "
                f"expected one of {SUPPORTED_FAMILIES}"
            )
        if hf.get("position_embedding_type", "absolute") != "absolute":
            raise UnsupportedModelError(
                f"position_embedding_type {hf['position_embedding_type']!r} is not supported (absolute only)"
            )
        if hf.get("is_decoder") or hf.get("add_cross_attention"):
            raise UnsupportedModelError("decoder / cross-attention configs are not supported")
        fields = dict(
            family=family,
            vocab_size=hf["vocab_size"],
            hidden_size=hf["hidden_size"],
            num_layers=hf["num_hidden_layers"],
            num_heads=hf["num_attention_heads"],
            intermediate_size=hf["intermediate_size"],
            max_position_embeddings=hf["max_position_embeddings"],
            type_vocab_size=hf.get("type_vocab_size", 2),
            layer_norm_eps=hf.get("layer_norm_eps", 1e-12),
            hidden_act=hf.get("hidden_act", "gelu"),
            pad_token_id=hf.get("pad_token_id", 0) if hf.get("pad_token_id") is not None else 0,
            hidden_dropout=hf.get("hidden_dropout_prob", 0.1),
            attention_dropout=hf.get("attention_probs_dropout_prob", 0.1),
        )
        fields.update(overrides)
        return cls(**fields)

    @classmethod
    def from_json_file(cls, path: str | Path, **overrides: Any) -> "EncoderConfig":
        path = Path(path)
        try:
            hf = json.loads(path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: no config.json; is this a Hugging Face model directory?")
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not valid JSON ({e})") from e
        return cls.from_hf_dict(hf, **overrides)

    def to_hf_dict(self) -> dict[str, Any]:
        """A config.json that transformers' AutoModel reads back into the same architecture."""
        arch = "RobertaModel" if self.family == "roberta" else "BertModel"
        hf = {
            "architectures": [arch],
            "model_type": self.family,
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "num_hidden_layers": self.num_layers,
            "num_attention_heads": self.num_heads,
            "intermediate_size": self.intermediate_size,
            "max_position_embeddings": self.max_position_embeddings,
            "type_vocab_size": self.type_vocab_size,
            "layer_norm_eps": self.layer_norm_eps,
            "hidden_act": self.hidden_act,
            "pad_token_id": self.pad_token_id,
            "hidden_dropout_prob": self.hidden_dropout,
            "attention_probs_dropout_prob": self.attention_dropout,
            "position_embedding_type": "absolute",
            "initializer_range": 0.02,
        }
        if self.family == "roberta":
            hf.update(bos_token_id=0, eos_token_id=2)
        return hf
