"""Multi-host start-up with JAX's own runtime (no home-made coordinator).

`jax.distributed.initialize()` detects Cloud TPU, SLURM, Open MPI and Kubernetes by itself; explicit
coordinator/process flags cover everything else (and the CPU tests: several processes on one
machine with gloo collectives). A process that dies makes the others fail after the heartbeat
timeout instead of hanging.
"""

from __future__ import annotations

import dataclasses
import os

import jax

_CLUSTER_ENV = ("SLURM_JOB_ID", "OMPI_COMM_WORLD_SIZE", "TPU_WORKER_HOSTNAMES", "MEGASCALE_COORDINATOR_ADDRESS",
                "JOBSET_NAME", "JAX_COORDINATOR_ADDRESS")


@dataclasses.dataclass(frozen=True)
class DistributedConfig:
    coordinator: str = ""  # host:port of process 0; "" = let JAX detect the cluster (or run alone)
    num_processes: int = 0
    process_id: int = -1
    auto: bool = True  # call jax.distributed.initialize() when a cluster environment is detected
    cpu_collectives: str = "gloo"  # collectives between CPU processes
    initialization_timeout: int = 300
    heartbeat_timeout: int = 100  # seconds without a heartbeat before the job is failed


def cluster_detected(env: dict[str, str] | None = None) -> bool:
    env = dict(os.environ if env is None else env)
    if env.get("SLURM_NTASKS") == "1" or env.get("OMPI_COMM_WORLD_SIZE") == "1":
        return False
    return any(k in env for k in _CLUSTER_ENV)


_initialized = False


def initialize(cfg: DistributedConfig) -> bool:
    """Start the distributed runtime if asked for or detected; True when it runs with >1 process."""
    global _initialized
    if _initialized:
        return jax.process_count() > 1
    explicit = bool(cfg.coordinator)
    if not explicit and not (cfg.auto and cluster_detected()):
        return False
    if cfg.cpu_collectives and jax.config.jax_platforms in (None, "", "cpu"):
        jax.config.update("jax_cpu_collectives_implementation", cfg.cpu_collectives)
    kwargs = dict(initialization_timeout=cfg.initialization_timeout,
                  heartbeat_timeout_seconds=cfg.heartbeat_timeout)
    if explicit:
        if cfg.num_processes < 1 or cfg.process_id < 0:
            raise ValueError("an explicit coordinator needs num_processes >= 1 and process_id >= 0")
        kwargs.update(coordinator_address=cfg.coordinator, num_processes=cfg.num_processes,
                      process_id=cfg.process_id)
    jax.distributed.initialize(**kwargs)
    _initialized = True
    return jax.process_count() > 1
