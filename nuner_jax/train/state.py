"""The training state: trainable and frozen parameters, the rest of the model's state (dropout
RNG counters), the optimiser state and the step; created already sharded on the mesh."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx, struct

from nuner_jax.train.freeze import FrozenRules, trainable_filter


@struct.dataclass
class TrainState:
    step: jax.Array
    trainable: Any
    frozen: Any
    rest: Any
    opt_state: Any


def split_model(model: nnx.Module, frozen: FrozenRules):
    """graphdef + (trainable params, frozen params, everything else)."""
    return nnx.split(model, trainable_filter(frozen), nnx.Param, ...)


def create_state(model: nnx.Module, frozen: FrozenRules, tx: optax.GradientTransformation):
    graphdef, trainable, frozen_params, rest = split_model(model, frozen)
    state = TrainState(jnp.zeros((), jnp.int32), trainable, frozen_params, rest, tx.init(trainable))
    return graphdef, state


def shard_state(state: TrainState, shardings) -> TrainState:
    """Place a host-built state on the mesh: each device receives only its shards, and in a
    multi-process job each process fills only its own devices (no cross-host transfer)."""

    def place(x, sharding):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            data = np.asarray(jax.random.key_data(x))
            placed = jax.make_array_from_callback(data.shape, sharding, lambda idx: data[idx])
            return jax.random.wrap_key_data(placed, impl=jax.random.key_impl(x))
        host = np.asarray(x)
        return jax.make_array_from_callback(host.shape, sharding, lambda idx: host[idx])

    return jax.tree.map(place, state, shardings)


def count_params(tree) -> int:
    return int(sum(x.size for x in jax.tree.leaves(tree)))
