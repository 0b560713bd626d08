"""Orbax checkpoints of the training state plus a JSON record of the config and data position.

The data position is the step itself (batches are indexed by step), so restoring the state
restores the input pipeline exactly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp


class CheckpointMismatchError(ValueError):
    """A checkpoint that does not fit the configured model; raised before any compute."""


def _keys_to_data(tree):
    """Typed PRNG keys (dropout streams) are stored as their raw uint32 data."""
    return jax.tree.map(lambda x: jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)
                        else x, tree)


def _data_to_keys(tree, like):
    return jax.tree.map(lambda x, ref: jax.random.wrap_key_data(x, impl=jax.random.key_impl(ref))
                        if jax.dtypes.issubdtype(ref.dtype, jax.dtypes.prng_key) else x, tree, like)


def make_manager(directory: Path, keep: int, async_save: bool) -> ocp.CheckpointManager:
    options = ocp.CheckpointManagerOptions(max_to_keep=keep, enable_async_checkpointing=async_save, create=True)
    return ocp.CheckpointManager(Path(directory).absolute(), options=options)


def save(manager: ocp.CheckpointManager, step: int, state, meta: dict[str, Any], force: bool = False) -> bool:
    return manager.save(
        step,
        args=ocp.args.Composite(state=ocp.args.StandardSave(_keys_to_data(state)), meta=ocp.args.JsonSave(meta)),
        force=force,
    )


def read_meta(manager: ocp.CheckpointManager, step: int) -> dict[str, Any]:
    return manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]


def restore(manager: ocp.CheckpointManager, step: int, abstract_state, shardings):
    """Restore onto the mesh; a shape or structure mismatch becomes a CheckpointMismatchError."""
    # key data keeps its key array's (replicated) sharding
    target = jax.tree.map(lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s),
                          _keys_to_data(abstract_state), shardings)
    try:
        restored = manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(target)))["state"]
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointMismatchError(
            f"{manager.directory}/{step}: checkpoint does not match the configured model ({e})"
        ) from e
    return _data_to_keys(restored, abstract_state)


def check_compatible(saved_config: dict, config: dict, directory: Path) -> None:
    """Refuse to resume a run whose model or data layout changed (clear message, no compute)."""
    for section in ("model", "freeze"):
        old, new = saved_config.get(section), config.get(section)
        if old is not None and json.dumps(old, sort_keys=True) != json.dumps(new, sort_keys=True):
            diff = {k: (old.get(k), new.get(k)) for k in set(old) | set(new) if old.get(k) != new.get(k)}
            raise CheckpointMismatchError(
                f"{directory}: the checkpoint was written with a different '{section}' config: "
                f"{ {k: f'{a!r} -> {b!r}' for k, (a, b) in diff.items()} }; use a new --workdir"
            )
