"""Export any checkpoint of a pre-training run (not only the last) as a Hugging Face directory."""

from __future__ import annotations

from pathlib import Path

import jax
from flax import nnx
from ml_collections import ConfigDict

from nuner_jax.models.build import build_dual_encoder, export_dual_encoder
from nuner_jax.models.dual_encoder import HeadConfig
from nuner_jax.train import checkpointing, parallel
from nuner_jax.train.loop import _fields, frozen_rules
from nuner_jax.train.optim import OptimConfig, make_optimizer
from nuner_jax.train.state import create_state


def export_checkpoint(workdir: str | Path, out_dir: str | Path | None = None, step: int | None = None) -> Path:
    workdir = Path(workdir).absolute()
    manager = checkpointing.make_manager(workdir / "checkpoints", keep=1000, async_save=False)
    step = manager.latest_step() if step is None else step
    if step is None or step not in manager.all_steps():
        raise FileNotFoundError(f"{workdir / 'checkpoints'}: no checkpoint for step {step} "
                                f"(has {sorted(manager.all_steps())})")
    meta = checkpointing.read_meta(manager, step)
    config = ConfigDict(meta["config"])
    head = _fields(HeadConfig, config.model)
    dropout = None if config.model.dropout < 0 else config.model.dropout
    model = build_dual_encoder(config.model.text, config.model.concept or None, head, seed=config.seed,
                               dropout=dropout, dtype=config.model.dtype, remat=config.model.remat)
    rules = frozen_rules(config, model.text_encoder.cfg.num_layers, model.concept_encoder.cfg.num_layers)
    tx = make_optimizer(_fields(OptimConfig, config.optim), meta["total_steps"])
    graphdef, state = create_state(model, rules, tx)
    mesh = parallel.make_mesh(parallel.MeshConfig(data=-1, fsdp=1))
    state = checkpointing.restore(manager, step, state, parallel.state_shardings(state, mesh, parallel.MeshConfig()))
    manager.close()
    final = nnx.merge(graphdef, *jax.device_get((state.trainable, state.frozen, state.rest)))
    out = Path(out_dir) if out_dir else workdir / f"export-step{step}"
    return export_dual_encoder(final, out, tokenizer_from=config.model.text)
