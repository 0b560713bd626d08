"""A tiny pre-training setup (small random BERT + pilot shards tokenised for it), shared by the
pre-training tests and the multi-device helper scripts they start."""

from __future__ import annotations

from pathlib import Path

from conftest import build_small_checkpoint, shared_data


def tiny_setup(root: Path) -> tuple[Path, Path]:
    """(model dir, shard dir) under root, built once."""
    model_dir, shards = root / "bert", root / "shards"
    if not (model_dir / "model.safetensors").exists():
        build_small_checkpoint("bert", model_dir)
    if not (shards / "nuner_info.json").exists():
        from nuner_jax.data.prepare import PrepareConfig, prepare

        prepare([shared_data("llm_annotated_pilot/annotations.jsonl")], shards,
                PrepareConfig(tokenizer=str(model_dir), eval_fraction=0.1, max_length=64, stride=48))
    return model_dir, shards


def tiny_config(model_dir: Path, shards: Path, workdir: Path, **overrides):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from configs.pretrain import get_config

    c = get_config("local")
    c.model.text = str(model_dir)
    c.data.dir = str(shards)
    c.data.max_length = 64
    c.workdir = str(workdir)
    c.train.log_every = 1
    c.train.async_checkpoints = False
    for key, value in overrides.items():
        node = c
        *parents, leaf = key.split(".")
        for p in parents:
            node = node[p]
        node[leaf] = value
    return c
