"""Run by test_pretrain.py in a subprocess with 4 fake CPU devices: the same global batches on
meshes of 1 device, 4 devices (data) and 2x2 (data x fsdp) must give the same losses and params."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
sys.path.insert(0, str(Path(__file__).parent))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from nuner_jax.data.loader import LoaderConfig, PretrainBatches  # noqa: E402
from nuner_jax.models.build import build_dual_encoder  # noqa: E402
from nuner_jax.train import parallel  # noqa: E402
from nuner_jax.train.freeze import FrozenRules, bottom_layers_rule, trainable_filter  # noqa: E402
from nuner_jax.train.losses import LossConfig  # noqa: E402
from nuner_jax.train.optim import OptimConfig, make_optimizer  # noqa: E402
from nuner_jax.train.state import create_state  # noqa: E402
from nuner_jax.train.step import jit_steps  # noqa: E402
from pretrain_fixtures import tiny_setup  # noqa: E402


def run(mesh_cfg: parallel.MeshConfig, devices, model_dir, shards, steps=3):
    model = build_dual_encoder(str(model_dir), dropout=0.0)
    rules = FrozenRules(bottom_layers_rule("text_encoder", 1))
    tx = make_optimizer(OptimConfig(learning_rate=1e-3, warmup_steps=0), 10)
    graphdef, state = create_state(model, rules, tx)
    mesh = parallel.make_mesh(mesh_cfg, devices)
    ssh = parallel.state_shardings(state, mesh, mesh_cfg)
    state = jax.device_put(state, ssh)
    loader = PretrainBatches(shards, "train", LoaderConfig(batch_size=8, max_length=64, max_concepts=64,
                                                           num_negatives=8))
    bsh = parallel.batch_shardings(loader.batch(0), mesh)
    train, _ = jit_steps(graphdef, trainable_filter(rules), tx, LossConfig(pos_weight=5.0), ssh, bsh)
    losses = []
    for s in range(steps):
        state, m = train(state, parallel.to_global_batch(loader.batch(s), mesh))
        losses.append(float(m["loss"]))
    sharded = [str(x.sharding.spec) for x in jax.tree.leaves(state.trainable) if any(x.sharding.spec)]
    params = [np.asarray(x) for x in jax.tree.leaves(state.trainable)]
    return losses, params, sharded


def main(root: str) -> None:
    model_dir, shards = tiny_setup(Path(root))
    devices = jax.devices()
    assert len(devices) == 4, devices
    ref_losses, ref_params, _ = run(parallel.MeshConfig(data=1, fsdp=1), devices[:1], model_dir, shards)
    report = {"reference_losses": ref_losses}
    for name, cfg in {"data4": parallel.MeshConfig(data=4, fsdp=1),
                      "fsdp2x2": parallel.MeshConfig(data=2, fsdp=2, fsdp_min_size=64)}.items():
        losses, params, sharded = run(cfg, devices, model_dir, shards)
        report[name] = {
            "losses": losses,
            "max_param_diff": max(float(np.abs(a - b).max()) for a, b in zip(params, ref_params)),
            "sharded_leaves": len(sharded),
        }
    print("RESULT " + json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1])
