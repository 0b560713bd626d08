"""The pre-training loop, top to bottom: config -> data -> mesh -> model -> state -> resume ->
steps (logging, evaluation, checkpoints, SIGTERM, NaN) -> export."""

from __future__ import annotations

import dataclasses
import math
import signal
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np
from ml_collections import ConfigDict
from tqdm.auto import tqdm

from nuner_jax.data.loader import LoaderConfig, PretrainBatches
from nuner_jax.data.shards import read_info
from nuner_jax.models.build import build_dual_encoder, export_dual_encoder
from nuner_jax.models.dual_encoder import HeadConfig
from nuner_jax.train import checkpointing, distributed, parallel
from nuner_jax.train.freeze import FrozenRules, bottom_layers_rule, trainable_filter
from nuner_jax.train.losses import LossConfig, decision_scores
from nuner_jax.train.metrics_log import MetricsWriter
from nuner_jax.train.optim import OptimConfig, make_optimizer
from nuner_jax.train.state import count_params, create_state, shard_state
from nuner_jax.train.step import jit_steps


class NonFiniteLossError(RuntimeError):
    pass


def _fields(cls, section: ConfigDict) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in section.to_dict().items() if k in names})


def loader_config(config: ConfigDict) -> LoaderConfig:
    return dataclasses.replace(_fields(LoaderConfig, config.data), seed=config.seed)


def frozen_rules(config: ConfigDict, text_layers: int, concept_layers: int) -> FrozenRules:
    def resolve(n: int, total: int) -> int:
        return total // 2 if n == -1 else n

    rules = bottom_layers_rule("text_encoder", resolve(config.freeze.text_layers, text_layers))
    rules += bottom_layers_rule("concept_encoder", resolve(config.freeze.concept_layers, concept_layers))
    return FrozenRules([*rules, *config.freeze.rules])


def _check_data_dir(config: ConfigDict) -> Path:
    if not config.data.dir:
        raise ValueError("config.data.dir is empty: point it at the output of `nuner-jax prepare`")
    data_dir = Path(config.data.dir)
    read_info(data_dir)  # clear error for a missing or empty directory
    return data_dir


class _Stop:
    """SIGTERM (preemption, scancel, kubectl delete) -> checkpoint at the next step, then exit."""

    def __init__(self) -> None:
        self.requested = False
        self._old = None

    def __enter__(self):
        try:
            self._old = signal.signal(signal.SIGTERM, self._handle)
        except ValueError:  # not the main thread
            self._old = None
        return self

    def _handle(self, signum, frame) -> None:
        self.requested = True

    def __exit__(self, *exc) -> None:
        if self._old is not None:
            signal.signal(signal.SIGTERM, self._old)


def _sum_metrics(total: dict, new: dict) -> dict:
    return {k: total.get(k, 0.0) + float(v) for k, v in new.items()}


def _summarise(acc: dict, n: int) -> dict[str, float]:
    out = {"loss": acc["loss"] / n, **decision_scores(acc)}
    for k in ("grad_norm", "concept_overflow"):
        if k in acc:
            out[k] = acc[k] / n
    return out


def train(config: ConfigDict) -> dict[str, Any]:
    """Run (or resume) pre-training in config.workdir; returns a summary with the export path."""
    # ---- config and data --------------------------------------------------------------------
    if not config.workdir:
        raise ValueError("no work directory: pass --workdir=DIR (or --config.workdir=DIR)")
    workdir = Path(config.workdir).absolute()
    distributed.initialize(_fields(distributed.DistributedConfig, config.distributed))
    data_dir = _check_data_dir(config)
    lcfg = loader_config(config)
    pidx, pcount = jax.process_index(), jax.process_count()
    train_data = PretrainBatches(data_dir, config.data.train_split, lcfg, pidx, pcount)
    eval_data = None
    if config.data.eval_split and config.data.eval_split in read_info(data_dir)["splits"]:
        try:
            eval_data = PretrainBatches(data_dir, config.data.eval_split, lcfg, pidx, pcount)
        except ValueError:  # a held-out split smaller than one batch: evaluation is skipped, said once
            print(f"note: eval split too small for a batch of {lcfg.batch_size}; no held-out evaluation")
    total_steps = config.train.steps or max(1, math.ceil(config.train.epochs * train_data.steps_per_epoch))

    # ---- mesh and model ---------------------------------------------------------------------
    mesh_cfg = _fields(parallel.MeshConfig, config.mesh)
    mesh = parallel.make_mesh(mesh_cfg)
    head = _fields(HeadConfig, config.model)
    numerics = {"dtype": config.model.dtype, "remat": config.model.remat}
    dropout = None if config.model.dropout < 0 else config.model.dropout
    model = build_dual_encoder(config.model.text, config.model.concept or None, head, seed=config.seed,
                               dropout=dropout, **numerics)
    rules = frozen_rules(config, model.text_encoder.cfg.num_layers, model.concept_encoder.cfg.num_layers)
    tx = make_optimizer(_fields(OptimConfig, config.optim), total_steps)
    graphdef, state = create_state(model, rules, tx)
    del model
    state_sh = parallel.state_shardings(state, mesh, mesh_cfg)
    example = train_data.batch(0)
    batch_sh = parallel.batch_shardings(
        {k: jax.ShapeDtypeStruct((v.shape[0] * pcount, *v.shape[1:]) if v.ndim and k not in parallel.GLOBAL_KEYS
                                 else v.shape, v.dtype) for k, v in example.items()}, mesh)
    loss_cfg = _fields(LossConfig, config.loss)

    # ---- checkpoint: resume or start ----------------------------------------------------------
    manager = checkpointing.make_manager(workdir / "checkpoints", config.train.keep_checkpoints,
                                         config.train.async_checkpoints)
    start_step = 0
    if manager.latest_step() is not None:
        latest = manager.latest_step()
        try:
            checkpointing.check_compatible(checkpointing.read_meta(manager, latest)["config"], config.to_dict(),
                                           workdir)
            state = checkpointing.restore(manager, latest, state, state_sh)
        except Exception:
            manager.close()  # no orphaned background saver threads on the error path
            raise
        start_step = int(latest)
        print(f"resumed from {workdir / 'checkpoints'} at step {start_step}")
    else:
        state = shard_state(state, state_sh)
    train_step, eval_step = jit_steps(graphdef, trainable_filter(rules), tx, loss_cfg, state_sh, batch_sh)

    def meta(step: int) -> dict:
        return {"config": config.to_dict(), "data": {"step": step, "seed": lcfg.seed}, "total_steps": total_steps}

    writer = MetricsWriter(workdir)
    if pidx == 0:
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "config.json").write_text(config.to_json_best_effort(indent=2) + "\n")
    n_train = count_params(state.trainable)
    n_frozen = count_params(state.frozen)

    def evaluate(step: int) -> dict[str, float] | None:
        if eval_data is None:
            return None
        acc: dict = {}
        n = min(config.train.eval_batches, eval_data.steps_per_epoch)
        for i in range(n):
            acc = _sum_metrics(acc, eval_step(state, parallel.to_global_batch(eval_data.batch(i), mesh)))
        scores = _summarise(acc, n)
        writer.write(step, "eval", scores)
        return scores

    # ---- loop -----------------------------------------------------------------------------------
    last_train: dict[str, float] = {}
    last_eval = None
    step = start_step
    window: list[dict] = []  # device metrics since the last log (fetched only at log time: no per-step sync)
    real_tokens = 0
    t_window = time.perf_counter()
    with _Stop() as stop, tqdm(total=total_steps, initial=start_step, desc="pretrain", unit="step",
                               disable=pidx != 0, dynamic_ncols=True) as bar:
        batches = train_data.iterate(start_step, total_steps)
        for step in range(start_step, total_steps):
            local = next(batches)
            real_tokens += int((local["segment_ids"] > 0).sum()) * pcount
            state, metrics = train_step(state, parallel.to_global_batch(local, mesh))
            if window:  # keep one step in flight: honest progress/ETA and bounded host run-ahead
                jax.block_until_ready(window[-1]["loss"])
            window.append(metrics)
            done = step + 1
            if done % config.train.log_every == 0 or done == total_steps:
                acc: dict = {}
                for m in jax.device_get(window):
                    acc = _sum_metrics(acc, m)
                if not np.isfinite(acc["loss"]):
                    latest = manager.latest_step()
                    manager.close()
                    raise NonFiniteLossError(
                        f"loss is {acc['loss']} at step {done}; last good checkpoint: "
                        f"{workdir / 'checkpoints' / str(latest) if latest is not None else 'none'}. "
                        "Lower optim.learning_rate or check the data."
                    )
                elapsed = time.perf_counter() - t_window
                last_train = {**_summarise(acc, len(window)), "tokens_per_s": real_tokens / elapsed,
                              "learning_rate": float(make_lr(config, total_steps)(done))}
                writer.write(done, "train", last_train)
                bar.set_postfix(loss=f"{last_train['loss']:.4f}", f1=f"{last_train['f1']:.3f}",
                                tok_s=f"{last_train['tokens_per_s']:.0f}")
                window, real_tokens, t_window = [], 0, time.perf_counter()
            if config.train.eval_every and done % config.train.eval_every == 0:
                last_eval = evaluate(done)
            if config.train.max_steps_per_run and done - start_step >= config.train.max_steps_per_run:
                stop.requested = True  # a time-boxed job (e.g. a preemptible slot): checkpointed, resumable
            if done % config.train.checkpoint_every == 0 or done == total_steps or stop.requested:
                checkpointing.save(manager, done, state, meta(done), force=True)
            bar.update(1)
            if stop.requested:
                manager.wait_until_finished()
                print(f"stopped: checkpoint written at step {done}; rerun the same command to resume")
                break
    manager.wait_until_finished()
    manager.close()
    summary: dict[str, Any] = {"workdir": str(workdir), "steps": step + 1 if total_steps > start_step else start_step,
                               "total_steps": total_steps, "train": last_train, "eval": last_eval,
                               "trainable_params": n_train, "frozen_params": n_frozen, "interrupted": False}
    if stop.requested and summary["steps"] < total_steps:
        summary["interrupted"] = True
        writer.close()
        return summary
    if last_eval is None and eval_data is not None:
        summary["eval"] = evaluate(total_steps)
    if config.train.export:
        from flax import nnx
        from jax.experimental import multihost_utils

        parts = (state.trainable, state.frozen, state.rest)
        # a collective: every process takes part, process 0 writes
        host = multihost_utils.process_allgather(parts, tiled=True) if pcount > 1 else jax.device_get(parts)
        if pidx == 0:
            final = nnx.merge(graphdef, *host)
            summary["export"] = str(export_dual_encoder(final, workdir / "export", tokenizer_from=config.model.text))
    writer.close()
    return summary


def make_lr(config: ConfigDict, total_steps: int):
    from nuner_jax.train.optim import schedule

    return schedule(_fields(OptimConfig, config.optim), total_steps)
