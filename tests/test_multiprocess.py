"""The multi-host path on one machine: 2 processes on 127.0.0.1 (gloo CPU collectives, 2 fake
devices each) against 1 process with 4 devices, checkpoint hand-over, and a killed process."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from pretrain_fixtures import tiny_setup

REPO = Path(__file__).resolve().parents[1]
RUN = str(REPO / "tests" / "multiprocess_run.sh")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _args(model_dir, shards, workdir, steps, extra=()):
    return [f"--config={REPO}/configs/pretrain.py:local", f"--config.model.text={model_dir}",
            f"--config.data.dir={shards}", "--config.data.max_length=64", "--config.data.batch_size=8",
            "--config.data.eval_split=", f"--config.train.steps={steps}", "--config.train.log_every=1",
            "--config.train.checkpoint_every=1000", "--config.train.async_checkpoints=False",
            "--config.optim.learning_rate=1e-3", f"--workdir={workdir}", *extra]


def _cluster(model_dir, shards, workdir, steps, extra=(), heartbeat=100):
    port = _free_port()
    procs = []
    for pid in range(2):
        dist = [f"--config.distributed.coordinator=127.0.0.1:{port}", "--config.distributed.num_processes=2",
                f"--config.distributed.process_id={pid}", f"--config.distributed.heartbeat_timeout={heartbeat}"]
        procs.append(subprocess.Popen([RUN, *_args(model_dir, shards, workdir, steps, [*extra, *dist])],
                                      cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                      env={**os.environ, "DEVICES": "2"}))
    return procs


def _single(model_dir, shards, workdir, steps, extra=()):
    r = subprocess.run([RUN, *_args(model_dir, shards, workdir, steps, extra)], cwd=REPO, capture_output=True,
                       text=True, env={**os.environ, "DEVICES": "4"}, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]


def _losses(workdir: Path) -> dict[int, float]:
    rows = [json.loads(line) for line in (workdir / "metrics.jsonl").open()]
    return {r["step"]: r["loss"] for r in rows if r["split"] == "train"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_setup(tmp_path_factory.mktemp("tinymp"))


def test_two_processes_equal_one_and_hand_over_checkpoints(tiny, tmp_path):
    model_dir, shards = tiny
    two = tmp_path / "two"
    procs = _cluster(model_dir, shards, two, 4, ["--config.train.max_steps_per_run=2"])
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-3000:]
    assert (two / "checkpoints" / "2").exists()

    one = tmp_path / "one"
    _single(model_dir, shards, one, 4)
    resumed = tmp_path / "resumed"
    shutil.copytree(two, resumed)
    _single(model_dir, shards, resumed, 4)  # a 1-process run restores the 2-process checkpoint

    straight, handed = _losses(one), _losses(resumed)
    assert sorted(handed) == [1, 2, 3, 4]
    for step in (1, 2, 3, 4):
        assert handed[step] == pytest.approx(straight[step], rel=1e-5), step
    a = load_file(str(one / "export" / "model.safetensors"))
    b = load_file(str(resumed / "export" / "model.safetensors"))
    for name in a:
        np.testing.assert_allclose(a[name], b[name], atol=1e-5, err_msg=name)


def test_a_killed_process_stops_the_others(tiny, tmp_path):
    model_dir, shards = tiny
    workdir = tmp_path / "killed"
    procs = _cluster(model_dir, shards, workdir, 100000, heartbeat=10)
    deadline = time.time() + 300
    while time.time() < deadline and not ((workdir / "metrics.jsonl").exists()
                                          and len((workdir / "metrics.jsonl").read_text().splitlines()) >= 2):
        time.sleep(0.5)
    assert (workdir / "metrics.jsonl").exists(), procs[0].stderr.read()[-2000:] if procs[0].poll() else "no start"
    procs[1].kill()
    t0 = time.time()
    try:
        procs[0].wait(timeout=180)
    except subprocess.TimeoutExpired:
        procs[0].kill()
        pytest.fail("the surviving process hung after its peer died")
    assert procs[0].returncode != 0
    assert time.time() - t0 < 180
