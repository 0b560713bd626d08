"""A multinomial logistic-regression head on frozen word features (the paper's "few-shot with
frozen foundation"), fitted by L-BFGS in JAX with sklearn's objective: C * sum(CE) + |W|^2 / 2."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax


@dataclasses.dataclass
class LinearProbe:
    weights: np.ndarray  # (dim, classes)
    bias: np.ndarray
    mean: np.ndarray
    std: np.ndarray

    def logits(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.std) @ self.weights + self.bias

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.logits(x).argmax(-1)

    def raw_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """(weights (dim, classes), bias) acting on raw features: the standardisation folded in."""
        w = self.weights / self.std[:, None]
        b = self.bias - (self.mean / self.std) @ self.weights
        return w.astype(np.float32), b.astype(np.float32)


def fit_probe(x: np.ndarray, y: np.ndarray, num_classes: int, c: float = 1.0, max_iter: int = 200) -> LinearProbe:
    mean, std = x.mean(0), x.std(0) + 1e-6
    xs = jnp.asarray((x - mean) / std)
    yj = jnp.asarray(y)

    def objective(params):
        w, b = params
        logp = jax.nn.log_softmax(xs @ w + b)
        ce = -jnp.take_along_axis(logp, yj[:, None], axis=1).sum()
        return c * ce + 0.5 * jnp.sum(w * w)

    params = (jnp.zeros((x.shape[1], num_classes)), jnp.zeros(num_classes))
    opt = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(objective)

    @jax.jit
    def run(params):
        def body(carry, _):
            params, state = carry
            value, grad = value_and_grad(params, state=state)
            updates, state = opt.update(grad, state, params, value=value, grad=grad, value_fn=objective)
            return (optax.apply_updates(params, updates), state), None

        (params, _), _ = jax.lax.scan(body, (params, opt.init(params)), None, length=max_iter)
        return params

    w, b = run(params)
    return LinearProbe(np.asarray(w), np.asarray(b), mean, std)
