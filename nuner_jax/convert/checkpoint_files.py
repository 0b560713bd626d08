"""Reading and writing the tensor files of a Hugging Face model directory.

Never unpickles untrusted data: safetensors first, `pytorch_model.bin` only through
`torch.load(weights_only=True)`.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "added_tokens.json",
)
_HUB_PATTERNS = ["config.json", "*.safetensors", "model.safetensors.index.json", *TOKENIZER_FILES]


class CheckpointError(ValueError):
    """A model directory or weights file that cannot be used; the message names the file."""


def resolve_model_dir(name_or_path: str | os.PathLike) -> Path:
    """A local directory as is; anything else is treated as a Hugging Face hub id and downloaded."""
    path = Path(name_or_path).expanduser()
    if path.exists():
        if not path.is_dir():
            raise CheckpointError(f"{path}: expected a model directory, found a file")
        return path
    text = str(name_or_path)
    looks_like_hub_id = text.count("/") <= 1 and not text.startswith((".", "/", "~"))
    if not looks_like_hub_id:
        raise CheckpointError(f"{path}: model directory does not exist")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(text, allow_patterns=_HUB_PATTERNS))
    except Exception as e:  # offline, unknown repo, auth: all end here with the cause attached
        raise CheckpointError(
            f"{text!r} is neither a local directory nor a downloadable hub model ({type(e).__name__}: {e})"
        ) from e


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    try:
        return load_file(str(path))
    except Exception as e:
        raise CheckpointError(f"{path}: truncated or corrupt safetensors file ({e})") from e


def _read_torch_bin(path: Path) -> dict[str, np.ndarray]:
    try:
        import torch
    except ImportError as e:
        raise CheckpointError(f"{path}: reading pytorch_model.bin needs torch (pip install torch==2.13.0)") from e
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(f"{path}: cannot be read as a weights-only PyTorch file ({e})") from e
    return {k: v.detach().float().numpy() if v.is_floating_point() else v.numpy() for k, v in state.items()}


def read_weights(model_dir: Path) -> tuple[dict[str, np.ndarray], Path]:
    """All tensors of a model directory (single or sharded safetensors, or a PyTorch .bin)."""
    single = model_dir / "model.safetensors"
    index = model_dir / "model.safetensors.index.json"
    binary = model_dir / "pytorch_model.bin"
    if single.exists():
        return _read_safetensors(single), single
    if index.exists():
        try:
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (json.JSONDecodeError, KeyError) as e:
            raise CheckpointError(f"{index}: not a valid safetensors index ({e})") from e
        tensors: dict[str, np.ndarray] = {}
        for shard in shards:
            if not (model_dir / shard).exists():
                raise CheckpointError(f"{model_dir / shard}: shard named in {index.name} is missing")
            tensors.update(_read_safetensors(model_dir / shard))
        return tensors, index
    if binary.exists():
        return _read_torch_bin(binary), binary
    raise CheckpointError(
        f"{model_dir}: no weights file (looked for model.safetensors, model.safetensors.index.json, "
        "pytorch_model.bin)"
    )


def write_safetensors(tensors: dict[str, np.ndarray], path: Path) -> None:
    from safetensors.numpy import save_file

    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(path), metadata={"format": "pt"})


def copy_tokenizer_files(src_dir: Path, dst_dir: Path) -> list[str]:
    """Copy whatever tokenizer files the source has; returns their names."""
    copied = []
    for name in TOKENIZER_FILES:
        if (src_dir / name).exists():
            shutil.copy2(src_dir / name, dst_dir / name)
            copied.append(name)
    return copied
