"""Hugging Face encoder directories <-> our Flax NNX encoder.

`load_encoder` reads config.json + weights into an `Encoder` through the name table, checking
every shape; `export_encoder` writes a directory that `transformers.AutoModel` loads with no
missing or unexpected keys.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np
from flax import nnx

from nuner_jax.convert.checkpoint_files import (
    CheckpointError,
    copy_tokenizer_files,
    read_weights,
    resolve_model_dir,
    write_safetensors,
)
from nuner_jax.convert.names import encoder_name_table, is_ignored, strip_model_prefix
from nuner_jax.models.config import EncoderConfig
from nuner_jax.models.encoder import Encoder


@dataclasses.dataclass
class LoadReport:
    """What a conversion used, skipped and could not find, by name."""

    source: str
    loaded: list[str]
    missing: list[str]
    unexpected: list[str]
    ignored: list[str]

    def summary(self) -> str:
        return (
            f"{self.source}: loaded {len(self.loaded)} tensors; missing {self.missing or 'none'}; "
            f"unexpected {self.unexpected or 'none'}; ignored {len(self.ignored)} non-encoder tensors"
        )


def _get_variable(model: nnx.Module, path: tuple) -> nnx.Variable:
    node: Any = model
    for key in path:
        node = node[key] if isinstance(key, int) else getattr(node, key)
    return node


def encoder_to_hf_tensors(model: Encoder, prefix: str = "") -> dict[str, np.ndarray]:
    """The encoder's parameters under transformers' names (float32 numpy)."""
    out = {}
    for row in encoder_name_table(model.cfg):
        value = np.asarray(_get_variable(model, row.flax_path).get_value(), dtype=np.float32)
        out[prefix + row.hf_name] = value.T if row.transpose else value
    return out


def assign_hf_tensors(
    model: Encoder, tensors: dict[str, np.ndarray], source: str, *, strict: bool = True
) -> LoadReport:
    """Copy transformers-named tensors into `model`, checking names and shapes."""
    prefix, by_bare_name = strip_model_prefix(list(tensors))
    table = encoder_name_table(model.cfg)
    loaded, missing = [], []
    for row in table:
        stored = by_bare_name.get(row.hf_name)
        if stored is None:
            missing.append(prefix + row.hf_name)
            continue
        value = tensors[stored]
        value = value.T if row.transpose else value
        var = _get_variable(model, row.flax_path)
        expected = tuple(var.get_value().shape)
        if tuple(value.shape) != expected:
            raise CheckpointError(
                f"{source}: tensor {stored!r} has shape {tuple(tensors[stored].shape)}, expected "
                f"{expected[::-1] if row.transpose else expected} for {'/'.join(map(str, row.flax_path))}"
            )
        var.set_value(jnp.asarray(value, dtype=jnp.float32))
        loaded.append(stored)
    known = {prefix + r.hf_name for r in table}
    leftovers = [n for n in tensors if n not in known]
    ignored = [n for n in leftovers if is_ignored(n[len(prefix):] if n.startswith(prefix) else n)]
    unexpected = [n for n in leftovers if n not in ignored]
    report = LoadReport(source, loaded, missing, unexpected, ignored)
    if strict and (missing or unexpected):
        raise CheckpointError(
            f"{source}: checkpoint does not match the encoder: missing {missing or 'none'}, "
            f"unexpected {unexpected or 'none'}"
        )
    return report


def load_encoder(
    name_or_path: str | os.PathLike,
    *,
    seed: int = 0,
    strict: bool = True,
    **config_overrides: Any,
) -> tuple[Encoder, LoadReport]:
    """Load a BERT/RoBERTa checkpoint (local directory or hub id) into a Flax `Encoder`.

    `config_overrides` set our own numerics fields (dtype, remat, dropout rates).
    """
    model_dir = resolve_model_dir(name_or_path)
    hf_config = _read_config(model_dir)
    tensors, weights_file = read_weights(model_dir)
    _, bare = strip_model_prefix(list(tensors))
    with_pooler = "pooler.dense.weight" in bare
    cfg = EncoderConfig.from_hf_dict(hf_config, with_pooler=with_pooler, **config_overrides)
    model = Encoder(cfg, rngs=nnx.Rngs(seed))
    report = assign_hf_tensors(model, tensors, str(weights_file), strict=strict)
    return model, report


def _read_config(model_dir: Path) -> dict[str, Any]:
    path = model_dir / "config.json"
    if not path.exists():
        raise CheckpointError(f"{path}: missing; a Hugging Face model directory needs config.json")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path}: not valid JSON ({e})") from e


def export_encoder(
    model: Encoder,
    out_dir: str | os.PathLike,
    *,
    tokenizer_from: str | os.PathLike | None = None,
    extra_config: dict[str, Any] | None = None,
) -> Path:
    """Write config.json + model.safetensors (+ tokenizer files) that `AutoModel` loads."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    hf_config = model.cfg.to_hf_dict()
    hf_config.update(extra_config or {})
    (out / "config.json").write_text(json.dumps(hf_config, indent=2, sort_keys=True) + "\n")
    write_safetensors(encoder_to_hf_tensors(model), out / "model.safetensors")
    if tokenizer_from is not None:
        copy_tokenizer_files(Path(tokenizer_from), out)
    return out
