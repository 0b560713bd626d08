"""Meshes and sharding rules: ("data", "fsdp") axes, parameters replicated or FSDP-sharded.

Data parallelism splits the batch over both axes; FSDP additionally shards each large parameter
(and its optimiser moments) on its largest dimension divisible by the fsdp axis size.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

BATCH_AXES = ("data", "fsdp")


@dataclasses.dataclass(frozen=True)
class MeshConfig:
    data: int = -1  # -1: fill with the devices fsdp leaves
    fsdp: int = 1  # -1: fill with the devices data leaves
    fsdp_min_size: int = 2**14  # parameters smaller than this stay replicated


def make_mesh(cfg: MeshConfig, devices=None) -> Mesh:
    devices = np.asarray(devices if devices is not None else jax.devices())
    n = devices.size
    data, fsdp = cfg.data, cfg.fsdp
    if data == -1 and fsdp == -1:
        raise ValueError("mesh: at most one of data and fsdp may be -1")
    if data == -1:
        data = n // fsdp
    if fsdp == -1:
        fsdp = n // data
    if data * fsdp != n:
        raise ValueError(f"mesh data={data} x fsdp={fsdp} does not match {n} devices")
    # Mesh(...) keeps Auto axes (jax.make_mesh would make them Explicit).
    return Mesh(devices.reshape(data, fsdp), BATCH_AXES)


def param_spec(shape: tuple[int, ...], mesh: Mesh, min_size: int) -> P:
    fsdp = mesh.shape["fsdp"]
    if fsdp == 1 or int(np.prod(shape, dtype=np.int64)) < min_size:
        return P()
    dims = sorted(range(len(shape)), key=lambda d: -shape[d])
    for d in dims:
        if shape[d] % fsdp == 0:
            spec = [None] * len(shape)
            spec[d] = "fsdp"
            return P(*spec)
    return P()


def state_shardings(abstract_state, mesh: Mesh, cfg: MeshConfig):
    """A NamedSharding for every leaf of a (possibly abstract) state pytree."""
    return jax.tree.map(
        lambda x: NamedSharding(mesh, param_spec(tuple(x.shape), mesh, cfg.fsdp_min_size)), abstract_state
    )


def batch_sharding(mesh: Mesh, ndim: int, per_row: bool) -> NamedSharding:
    """Row-indexed arrays are split over every device; concept arrays (global) are replicated."""
    if per_row and ndim > 0:
        return NamedSharding(mesh, P(BATCH_AXES, *([None] * (ndim - 1))))
    return NamedSharding(mesh, P())


GLOBAL_KEYS = ("concept_ids", "concept_segments", "concept_token_slot", "concept_first", "concept_mask",
               "concept_overflow")


def batch_shardings(batch_shapes: dict, mesh: Mesh) -> dict:
    return {k: batch_sharding(mesh, len(v.shape), k not in GLOBAL_KEYS) for k, v in batch_shapes.items()}


def to_global_batch(local: dict[str, np.ndarray], mesh: Mesh) -> dict[str, jax.Array]:
    """This process's rows -> global jax.Arrays (concept arrays are identical on every process)."""
    out = {}
    for k, v in local.items():
        sharding = batch_sharding(mesh, v.ndim, k not in GLOBAL_KEYS)
        if k in GLOBAL_KEYS:
            out[k] = jax.make_array_from_process_local_data(sharding, v, v.shape)
        else:
            global_shape = (v.shape[0] * jax.process_count(), *v.shape[1:])
            out[k] = jax.make_array_from_process_local_data(sharding, v, global_shape)
    return out
