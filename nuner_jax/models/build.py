"""Building the dual encoder from Hugging Face checkpoints, and saving/loading it as HF directories."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
from flax import nnx

from nuner_jax.convert.hf import export_encoder, load_encoder
from nuner_jax.models.dual_encoder import DualEncoder, HeadConfig
from nuner_jax.models.offline import resolve_model_name

HEAD_FILE = "nuner_head.json"
CONCEPT_DIR = "concept_encoder"


def build_dual_encoder(
    text_model: str,
    concept_model: str | None = None,
    head: HeadConfig = HeadConfig(),
    *,
    seed: int = 0,
    dropout: float | None = None,
    **numerics: Any,
) -> DualEncoder:
    """Both towers start from checkpoints (the concept tower from the text one unless given)."""
    overrides = dict(numerics)
    if dropout is not None:
        overrides.update(hidden_dropout=dropout, attention_dropout=dropout)
    text, _ = load_encoder(resolve_model_name(text_model), seed=seed, **overrides)
    concept, _ = load_encoder(resolve_model_name(concept_model or text_model), seed=seed + 1, **overrides)
    return DualEncoder(text, concept, head, rngs=nnx.Rngs(seed + 2))


def export_dual_encoder(model: DualEncoder, out_dir: str | Path, tokenizer_from: str | Path | None) -> Path:
    """The text encoder at `out_dir` (the NuNER model: a drop-in for its base model), the concept
    encoder in `out_dir/concept_encoder`, and the scoring head in `nuner_head.json` (for zero-shot)."""
    out = Path(out_dir)
    tok = resolve_model_name(str(tokenizer_from)) if tokenizer_from else None
    export_encoder(model.text_encoder, out, tokenizer_from=tok)
    export_encoder(model.concept_encoder, out / CONCEPT_DIR, tokenizer_from=tok)
    head = {
        **dataclasses.asdict(model.head),
        "scale": float(np.exp(np.asarray(model.log_scale.get_value()))),
        "bias": float(np.asarray(model.bias.get_value())),
    }
    if model.token_projection is not None:
        from safetensors.numpy import save_file

        save_file({
            "token_projection.kernel": np.asarray(model.token_projection.kernel.get_value()),
            "token_projection.bias": np.asarray(model.token_projection.bias.get_value()),
            "concept_projection.kernel": np.asarray(model.concept_projection.kernel.get_value()),
            "concept_projection.bias": np.asarray(model.concept_projection.bias.get_value()),
        }, str(out / "nuner_projections.safetensors"))
    (out / HEAD_FILE).write_text(json.dumps(head, indent=2) + "\n")
    return out


def load_dual_encoder(model_dir: str | Path) -> DualEncoder:
    """Inverse of `export_dual_encoder` (dropout off: for inference)."""
    src = Path(model_dir)
    head_path = src / HEAD_FILE
    if not head_path.exists():
        raise FileNotFoundError(f"{head_path}: missing; {src} is not a NuNER dual-encoder export")
    raw = json.loads(head_path.read_text())
    scale, bias = raw.pop("scale"), raw.pop("bias")
    raw["token_layers"] = tuple(raw["token_layers"])
    head = HeadConfig(**{**raw, "init_scale": scale, "init_bias": bias})
    text, _ = load_encoder(src, hidden_dropout=0.0, attention_dropout=0.0)
    concept, _ = load_encoder(src / CONCEPT_DIR, hidden_dropout=0.0, attention_dropout=0.0)
    model = DualEncoder(text, concept, head, rngs=nnx.Rngs(0))
    if head.projection_dim:
        from safetensors.numpy import load_file

        t = load_file(str(src / "nuner_projections.safetensors"))
        for name in ("token_projection", "concept_projection"):
            getattr(model, name).kernel.set_value(t[f"{name}.kernel"])
            getattr(model, name).bias.set_value(t[f"{name}.bias"])
    model.eval()
    return model
