"""Launch scripts: valid bash, and dry runs print the commands a cluster would run."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

LAUNCH = Path(__file__).resolve().parents[1] / "launch"
SCRIPTS = ["tpu_pod.sh", "slurm.sh", "slurm.sbatch", "k8s.sh", "single_host.sh"]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", *args], capture_output=True, text=True, cwd=LAUNCH.parent, timeout=30)


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_parse(script):
    r = _run("-n", str(LAUNCH / script))
    assert r.returncode == 0, r.stderr


def test_tpu_pod_dry_run_runs_the_same_command_on_every_worker():
    r = _run(str(LAUNCH / "tpu_pod.sh"), "--tpu", "pod", "--zone", "us-central2-b", "--setup", "--dry-run", "--",
             "--config=configs/pretrain.py:roberta-base", "--workdir=/mnt/run")
    assert r.returncode == 0, r.stderr
    setup, train = r.stdout.strip().splitlines()
    for line in (setup, train):
        assert line.startswith("gcloud compute tpus tpu-vm ssh pod --zone us-central2-b --worker=all --command")
    assert "jax\\[tpu\\]==0.10.\\*" in setup
    assert "nuner_jax.cli\\ pretrain\\ --config=configs/pretrain.py:roberta-base\\ --workdir=/mnt/run" in train


def test_tpu_pod_requires_a_name():
    r = _run(str(LAUNCH / "tpu_pod.sh"), "--dry-run")
    assert r.returncode == 2 and "--tpu and --zone are required" in r.stderr


def test_slurm_dry_run():
    r = _run(str(LAUNCH / "slurm.sh"), "--nodes", "4", "--gpus-per-node", "8", "--dry-run", "--", "--config=c.py")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[:4] == ["sbatch", "--nodes=4", "--gpus-per-node=8", "--ntasks-per-node=8"]
    assert r.stdout.strip().endswith("slurm.sbatch --config=c.py")
    assert "srun --kill-on-bad-exit=1 python -m nuner_jax.cli pretrain" in (LAUNCH / "slurm.sbatch").read_text()


def test_k8s_dry_run_renders_the_jobset():
    r = _run(str(LAUNCH / "k8s.sh"), "--name", "nuner", "--image", "reg/nuner:1", "--hosts", "4", "--gpus", "8",
             "--dry-run", "--", "--config=configs/pretrain.py:roberta-base", "--workdir=/mnt/run")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "kind: JobSet" in out and "name: nuner" in out and "image: reg/nuner:1" in out
    assert "parallelism: 4" in out and "nvidia.com/gpu: 8" in out
    assert 'args: ["--config=configs/pretrain.py:roberta-base", "--workdir=/mnt/run"]' in out
    assert "${" not in out


def test_single_host_dry_run():
    r = _run(str(LAUNCH / "single_host.sh"), "--gpus", "0,1", "--dry-run", "--", "--config.mesh.fsdp=-1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "env CUDA_VISIBLE_DEVICES=0\\,1 python -m nuner_jax.cli pretrain --config.mesh.fsdp=-1"
