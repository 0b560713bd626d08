"""A 2-layer MLP head on frozen word features: more capacity than the logistic regression when k
is large, at the risk of over-fitting when it is small. Full-batch AdamW in one jitted scan."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax


@dataclasses.dataclass
class MLPProbe:
    params: dict
    mean: np.ndarray
    std: np.ndarray

    def logits(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(_forward(self.params, jnp.asarray((x - self.mean) / self.std)))

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.logits(x).argmax(-1)


def _forward(params: dict, x: jax.Array) -> jax.Array:
    h = jax.nn.gelu(x @ params["w1"] + params["b1"])
    return h @ params["w2"] + params["b2"]


def fit_mlp(x: np.ndarray, y: np.ndarray, num_classes: int, hidden: int = 256, steps: int = 300,
            learning_rate: float = 1e-3, weight_decay: float = 1e-2, seed: int = 0) -> MLPProbe:
    mean, std = x.mean(0), x.std(0) + 1e-6
    xs, yj = jnp.asarray((x - mean) / std), jnp.asarray(y)
    k1, k2 = jax.random.split(jax.random.key(seed))
    d = x.shape[1]
    params = {"w1": jax.random.normal(k1, (d, hidden)) * (2.0 / d) ** 0.5, "b1": jnp.zeros(hidden),
              "w2": jax.random.normal(k2, (hidden, num_classes)) * (1.0 / hidden) ** 0.5,
              "b2": jnp.zeros(num_classes)}
    tx = optax.adamw(learning_rate, weight_decay=weight_decay)

    def loss(p):
        logp = jax.nn.log_softmax(_forward(p, xs))
        return -jnp.take_along_axis(logp, yj[:, None], axis=1).mean()

    @jax.jit
    def run(params):
        def body(carry, _):
            p, s = carry
            g = jax.grad(loss)(p)
            u, s = tx.update(g, s, p)
            return (optax.apply_updates(p, u), s), None

        (params, _), _ = jax.lax.scan(body, (params, tx.init(params)), None, length=steps)
        return params

    return MLPProbe(jax.tree.map(np.asarray, run(params)), mean, std)
