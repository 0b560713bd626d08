"""The jitted NuNER training and evaluation steps: pure functions of (state, batch)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from nuner_jax.train.losses import LossConfig, concept_bce
from nuner_jax.train.state import TrainState


def _model_loss(model, batch: dict, loss_cfg: LossConfig):
    logits = model(batch)
    loss, stats = concept_bce(logits, batch["labels"], batch["token_mask"], batch["concept_mask"], loss_cfg)
    return loss, stats


def train_step(state: TrainState, batch: dict, *, graphdef, trainable, tx: optax.GradientTransformation,
               loss_cfg: LossConfig) -> tuple[TrainState, dict]:
    """One update. Gradients are taken only for the trainable parameters (frozen ones cost no
    backward matmuls for their weights); dropout RNG counters advance inside `rest`."""
    model = nnx.merge(graphdef, state.trainable, state.frozen, state.rest)
    model.train()
    grad_fn = nnx.value_and_grad(_model_loss, argnums=nnx.DiffState(0, trainable), has_aux=True)
    (loss, stats), grads = grad_fn(model, batch, loss_cfg)
    updates, opt_state = tx.update(grads, state.opt_state, state.trainable)
    new_trainable = optax.apply_updates(state.trainable, updates)
    rest = nnx.state(model, nnx.Not(nnx.Param))
    metrics = {"loss": loss, "grad_norm": optax.global_norm(grads), **stats,
               "concept_overflow": batch["concept_overflow"].astype(jnp.float32)}
    return state.replace(step=state.step + 1, trainable=new_trainable, rest=rest, opt_state=opt_state), metrics


def eval_step(state: TrainState, batch: dict, *, graphdef, loss_cfg: LossConfig) -> dict:
    model = nnx.merge(graphdef, state.trainable, state.frozen, state.rest)
    model.eval()
    loss, stats = _model_loss(model, batch, loss_cfg)
    return {"loss": loss, **stats}


def jit_steps(graphdef, trainable, tx, loss_cfg, state_sharding, batch_sharding):
    """Jitted steps with explicit shardings; the state's buffers are donated to the update."""
    train = jax.jit(
        functools.partial(train_step, graphdef=graphdef, trainable=trainable, tx=tx, loss_cfg=loss_cfg),
        in_shardings=(state_sharding, batch_sharding),
        out_shardings=(state_sharding, None),
        donate_argnums=0,
    )
    evaluate = jax.jit(
        functools.partial(eval_step, graphdef=graphdef, loss_cfg=loss_cfg),
        in_shardings=(state_sharding, batch_sharding),
    )
    return train, evaluate
