"""The NuNER objective, freezing, sharding equivalence, resume, the loop's errors, and a real run."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import shared_data
from nuner_jax.commands import parse_config_flags
from nuner_jax.train.checkpointing import CheckpointMismatchError
from nuner_jax.train.loop import train
from nuner_jax.train.losses import LossConfig, concept_bce
from pretrain_fixtures import tiny_config, tiny_setup

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_setup(tmp_path_factory.mktemp("tiny"))


def _losses(workdir: Path) -> dict[int, float]:
    rows = [json.loads(line) for line in (workdir / "metrics.jsonl").open()]
    return {r["step"]: r["loss"] for r in rows if r["split"] == "train"}


def test_loss_matches_hand_computation():
    logits = np.array([[[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]]], np.float32)  # (1 row, 2 tokens, 3 concepts)
    labels = np.array([[[1, 0, 0], [0, 1, 1]]], bool)
    token_mask = np.array([[True, True]])
    concept_mask = np.array([True, True, False])  # third slot is padding
    sig = lambda x: 1 / (1 + np.exp(-x))
    pairs = [(2.0, 1), (-1.0, 0), (0.0, 0), (3.0, 1)]
    for w in (1.0, 5.0):
        expected = np.mean([-(w * y * np.log(sig(x)) + (1 - y) * np.log(1 - sig(x))) for x, y in pairs])
        loss, stats = concept_bce(jnp.asarray(logits), jnp.asarray(labels), jnp.asarray(token_mask),
                                  jnp.asarray(concept_mask), LossConfig(pos_weight=w))
        np.testing.assert_allclose(float(loss), expected, rtol=1e-6)
    assert float(stats["tp"]) == 2 and float(stats["fp"]) == 0 and float(stats["fn"]) == 0
    assert float(stats["pairs"]) == 4
    bal, _ = concept_bce(jnp.asarray(logits), jnp.asarray(labels), jnp.asarray(token_mask),
                         jnp.asarray(concept_mask), LossConfig(variant="balanced"))
    pos = np.mean([-np.log(sig(2.0)), -np.log(sig(3.0))])
    neg = np.mean([-np.log(1 - sig(-1.0)), -np.log(1 - sig(0.0))])
    np.testing.assert_allclose(float(bal), pos + neg, rtol=1e-6)


def test_frozen_parameters_do_not_move_and_others_do(tiny):
    from flax import nnx

    from nuner_jax.data.loader import LoaderConfig, PretrainBatches
    from nuner_jax.models.build import build_dual_encoder
    from nuner_jax.train import parallel
    from nuner_jax.train.freeze import FrozenRules, bottom_layers_rule, path_string, trainable_filter
    from nuner_jax.train.optim import OptimConfig, make_optimizer
    from nuner_jax.train.state import create_state
    from nuner_jax.train.step import jit_steps

    model_dir, shards = tiny
    model = build_dual_encoder(str(model_dir), dropout=0.0)
    before = {path_string(p): np.asarray(v.get_value()) for p, v in nnx.to_flat_state(nnx.state(model, nnx.Param))}
    rules = FrozenRules(bottom_layers_rule("text_encoder", 2) + [r"^concept_encoder/embeddings/"])
    tx = make_optimizer(OptimConfig(learning_rate=1e-3, warmup_steps=0), 10)
    graphdef, state = create_state(model, rules, tx)
    mesh = parallel.make_mesh(parallel.MeshConfig())
    loader = PretrainBatches(shards, "train", LoaderConfig(batch_size=4, max_length=64, max_concepts=64,
                                                           num_negatives=8))
    ssh = parallel.state_shardings(state, mesh, parallel.MeshConfig())
    step, _ = jit_steps(graphdef, trainable_filter(rules), tx, LossConfig(), ssh,
                        parallel.batch_shardings(loader.batch(0), mesh))
    state = jax.device_put(state, ssh)
    for s in range(3):
        state, _ = step(state, parallel.to_global_batch(loader.batch(s), mesh))
    after = nnx.merge(graphdef, state.trainable, state.frozen, state.rest)
    moved, still = [], []
    for p, v in nnx.to_flat_state(nnx.state(after, nnx.Param)):
        name = path_string(p)
        (moved if not np.array_equal(before[name], np.asarray(v.get_value())) else still).append(name)
    frozen_names = [n for n in before if rules(tuple(n.split("/")), nnx.Param(0))]
    assert frozen_names and set(frozen_names) <= set(still)
    assert any(n.startswith("text_encoder/layers/2/") for n in moved)
    assert any(n.startswith("concept_encoder/layers/0/") for n in moved)
    assert "log_scale" in moved
    assert not any(n.startswith("text_encoder/layers/1/") for n in moved)


def test_four_fake_devices_and_fsdp_equal_one_device(tiny, tmp_path):
    model_dir, shards = tiny
    root = Path(shards).parent
    r = subprocess.run([sys.executable, str(REPO / "tests" / "multidevice_check.py"), str(root)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    report = json.loads(r.stdout.split("RESULT ", 1)[1])
    ref = report["reference_losses"]
    for name in ("data4", "fsdp2x2"):
        np.testing.assert_allclose(report[name]["losses"], ref, rtol=1e-5)
        assert report[name]["max_param_diff"] < 1e-5
    assert report["fsdp2x2"]["sharded_leaves"] > 0  # FSDP really shards parameters
    assert report["data4"]["sharded_leaves"] == 0


def test_stopped_run_resumes_with_identical_losses(tiny, tmp_path):
    model_dir, shards = tiny
    straight = tmp_path / "straight"
    train(tiny_config(model_dir, shards, straight, **{"train.steps": 6, "train.checkpoint_every": 100,
                                                      "train.export": False}))
    resumed = tmp_path / "resumed"
    cfg = tiny_config(model_dir, shards, resumed, **{"train.steps": 6, "train.checkpoint_every": 100,
                                                     "train.export": False, "train.max_steps_per_run": 3})
    first = train(cfg)
    assert first["interrupted"] and first["steps"] == 3
    assert (resumed / "checkpoints" / "3").exists()
    second = train(cfg)  # the same command again: resumes at step 3, runs 3 more
    assert second["steps"] == 6 and not second["interrupted"]
    a, b = _losses(straight), _losses(resumed)
    assert sorted(a) == sorted(b) == [1, 2, 3, 4, 5, 6]
    for s in a:
        assert a[s] == pytest.approx(b[s], rel=1e-6), s


def test_sigterm_checkpoints_and_exits(tiny, tmp_path):
    model_dir, shards = tiny
    workdir = tmp_path / "sig"
    args = [sys.executable, "-m", "nuner_jax.cli", "pretrain", f"--config={REPO}/configs/pretrain.py:local",
            f"--config.model.text={model_dir}", f"--config.data.dir={shards}", "--config.data.max_length=64",
            "--config.train.steps=100000", "--config.train.log_every=1", "--config.train.checkpoint_every=100000",
            f"--workdir={workdir}"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    deadline = time.time() + 240
    while time.time() < deadline and not ((workdir / "metrics.jsonl").exists()
                                          and len((workdir / "metrics.jsonl").read_text().splitlines()) >= 2):
        time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err[-2000:]
    assert "stopped: checkpoint written at step" in out
    steps = [int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit()]
    assert steps and 2 <= max(steps) < 100000


def test_bad_config_fields_fail_before_compute():
    cfg_path = f"{REPO}/configs/pretrain.py:local"
    with pytest.raises(ValueError, match="bad configuration flag"):
        parse_config_flags([f"--config={cfg_path}", "--config.optim.learnin_rate=1e-3"], cfg_path)
    with pytest.raises(ValueError, match="bad configuration flag"):
        parse_config_flags([f"--config={cfg_path}", "--config.data.batch_size=lots"], cfg_path)
    ok = parse_config_flags([f"--config={cfg_path}", "--config.data.batch_size=16", "--workdir=/tmp/x"], cfg_path)
    assert ok.data.batch_size == 16 and ok.workdir == "/tmp/x"


def test_missing_or_empty_shard_directory_fails_clearly(tiny, tmp_path):
    model_dir, _ = tiny
    with pytest.raises(FileNotFoundError, match="does not exist"):
        train(tiny_config(model_dir, tmp_path / "absent", tmp_path / "w1"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="nuner_info.json: missing"):
        train(tiny_config(model_dir, tmp_path / "empty", tmp_path / "w2"))


def test_checkpoint_from_another_model_is_refused(tiny, tmp_path):
    import shutil

    from conftest import build_small_checkpoint

    model_dir, shards = tiny
    own_model = tmp_path / "model"
    shutil.copytree(model_dir, own_model)
    workdir = tmp_path / "w"
    train(tiny_config(own_model, shards, workdir, **{"train.steps": 2, "train.export": False}))
    # a changed model config is named field by field
    with pytest.raises(CheckpointMismatchError, match="different 'model' config.*projection_dim"):
        train(tiny_config(own_model, shards, workdir, **{"train.steps": 4, "model.projection_dim": 16}))
    # the same config, but the checkpoint directory now holds a model of another shape
    shutil.rmtree(own_model)
    build_small_checkpoint("bert", own_model, seed=1, intermediate_size=48)
    with pytest.raises(CheckpointMismatchError, match="does not match the configured model"):
        train(tiny_config(own_model, shards, workdir, **{"train.steps": 4, "train.export": False}))


def test_export_is_a_huggingface_directory(tiny, tmp_path):
    from transformers import AutoModel

    model_dir, shards = tiny
    summary = train(tiny_config(model_dir, shards, tmp_path / "w", **{"train.steps": 2, "train.checkpoint_every": 1}))
    export = Path(summary["export"])
    model, info = AutoModel.from_pretrained(str(export), output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    assert (export / "concept_encoder" / "model.safetensors").exists()
    assert (export / "nuner_head.json").exists()
    from safetensors.numpy import load_file

    from nuner_jax.models.build import load_dual_encoder
    from nuner_jax.train.export import export_checkpoint

    load_dual_encoder(export)
    # any checkpoint exports the same way; the last one equals the end-of-run export
    first = export_checkpoint(tmp_path / "w", step=1)
    last = export_checkpoint(tmp_path / "w", out_dir=tmp_path / "last")
    end, at1, at2 = (load_file(str(d / "model.safetensors")) for d in (export, first, last))
    name = "encoder.layer.2.output.dense.weight"
    np.testing.assert_array_equal(end[name], at2[name])
    assert not np.array_equal(at1[name], at2[name])
    with pytest.raises(FileNotFoundError, match="no checkpoint for step 7"):
        export_checkpoint(tmp_path / "w", step=7)


@pytest.mark.slow
def test_loss_falls_on_the_real_pile_ner_subset(tmp_path):
    from nuner_jax.data.prepare import PrepareConfig, prepare

    shards = tmp_path / "pile"
    prepare([shared_data("pilener_subset_slimer/bio_391xALL/dev.txt")], shards, PrepareConfig(eval_fraction=0.0))
    sys.path.insert(0, str(REPO))
    from configs.pretrain import get_config

    c = get_config("minilm")
    c.data.dir = str(shards)
    c.data.eval_split = ""
    c.data.batch_size = 8
    c.data.max_concepts = 128
    c.data.num_negatives = 16
    c.workdir = str(tmp_path / "w")
    c.train.steps = 30
    c.train.log_every = 5
    c.train.export = False
    c.train.async_checkpoints = False
    c.optim.learning_rate = 1e-4
    c.optim.warmup_steps = 5
    train(c)
    losses = _losses(tmp_path / "w")
    first, last = losses[5], losses[30]
    assert last < 0.6 * first, losses


def test_non_finite_loss_stops_with_a_clear_message(tiny, tmp_path, monkeypatch):
    from nuner_jax.train import step as step_module
    from nuner_jax.train.loop import NonFiniteLossError

    real = step_module.concept_bce

    def poisoned(*args, **kwargs):
        loss, stats = real(*args, **kwargs)
        return loss * jnp.nan, stats

    monkeypatch.setattr(step_module, "concept_bce", poisoned)
    model_dir, shards = tiny
    with pytest.raises(NonFiniteLossError, match=r"loss is nan at step 1; last good checkpoint: none"):
        train(tiny_config(model_dir, shards, tmp_path / "w", **{"train.steps": 4, "train.export": False}))


def test_sweep_runs_each_override_and_tabulates(tiny, tmp_path):
    from nuner_jax.train.sweep import collect, markdown, run_sweep

    model_dir, shards = tiny
    base = f"{REPO}/configs/pretrain.py:local"
    extra = [f"--config.model.text={model_dir}", f"--config.data.dir={shards}", "--config.data.max_length=64",
             "--config.train.steps=2", "--config.train.export=False", "--config.train.async_checkpoints=False"]
    runs = {"w1": ["--config.loss.pos_weight=1.0"], "balanced": ["--config.loss.variant=balanced"]}
    printed = run_sweep(base, runs, tmp_path, extra, dry_run=True)
    assert len(printed) == 2 and "--config.loss.variant=balanced" in printed[1]
    assert not any(tmp_path.iterdir())  # a dry run runs nothing
    run_sweep(base, runs, tmp_path, extra)
    rows = collect(tmp_path)
    assert [r["run"] for r in rows] == ["balanced", "w1"] and all(r["train_step"] == 2 for r in rows)
    assert rows[0]["train_loss"] != rows[1]["train_loss"]
    assert "| balanced | 2 |" in markdown(rows)
