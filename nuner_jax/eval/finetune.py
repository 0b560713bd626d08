"""Full fine-tuning for few-shot NER: the encoder and a linear head trained together on the k-shot
sentences (first subword of each word labelled, the rest ignored), then the fine-tuned encoder
gives the test features. The paper's alternative to the frozen foundation.

The head starts from the logistic regression fitted on the frozen features ("linear probe, then
fine-tune"): with a handful of sentences, a randomly initialised head spends the few updates there
are learning to say "O", and the encoder drifts before the head is any good."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from nuner_jax.eval.features import WordFeaturizer
from nuner_jax.eval.linear_probe import LinearProbe, fit_probe


@dataclasses.dataclass(frozen=True)
class FineTuneConfig:
    epochs: int = 20
    min_steps: int = 30  # k-shot samples can be a single batch: at least this many updates
    learning_rate: float = 5e-5  # encoder
    head_learning_rate: float = 1e-4
    weight_decay: float = 0.01
    batch_size: int = 16


def _batches(featurizer: WordFeaturizer, sentences: Sequence[Sequence[str]], labels: Sequence[Sequence[int]]):
    """(ids, mask, targets) per window: targets hold a class at each word's first subword, -1 elsewhere."""
    out = []
    for i, toks, covered in featurizer.word_pieces(sentences):
        target = np.full(len(toks), -1, np.int32)
        for w, pos in covered.items():
            target[pos] = labels[i][w]
        out.append((toks, target))
    return out


def probe_head(featurizer: WordFeaturizer, sentences, labels, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """The logistic-regression head on frozen features, folded to act on raw features."""
    x = np.concatenate(featurizer(sentences))
    y = np.concatenate([np.asarray(lab, np.int64) for lab in labels])
    return fit_probe(x, y, num_classes).raw_weights()


def _step_fn(featurizer: WordFeaturizer, cfg: FineTuneConfig):
    """The jitted update, built once per (featurizer, config): seeds and k reuse its compilations."""
    cache = featurizer.__dict__.setdefault("_finetune_steps", {})
    if cfg in cache:
        return cache[cfg]
    labels_fn = lambda p: (jax.tree.map(lambda _: "encoder", p[0]), jax.tree.map(lambda _: "head", p[1]))  # noqa: E731
    tx = optax.chain(optax.clip_by_global_norm(1.0), optax.multi_transform(
        {"encoder": optax.adamw(cfg.learning_rate, weight_decay=cfg.weight_decay),
         "head": optax.adamw(cfg.head_learning_rate, weight_decay=cfg.weight_decay)}, labels_fn))
    rest = featurizer.rest

    def loss_fn(p, ids, mask, target):
        feats = featurizer.features(p[0], rest, ids, mask)
        logits = feats @ p[1]["w"] + p[1]["b"]
        valid = target >= 0
        logp = jax.nn.log_softmax(logits.astype(jnp.float32))
        nll = -jnp.take_along_axis(logp, jnp.maximum(target, 0)[..., None], axis=-1)[..., 0]
        return (nll * valid).sum() / jnp.maximum(valid.sum(), 1)

    @jax.jit
    def step(p, s, ids, mask, target):
        loss, g = jax.value_and_grad(loss_fn)(p, ids, mask, target)
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s, loss

    cache[cfg] = (step, tx)
    return step, tx


def finetune(featurizer: WordFeaturizer, sentences: Sequence[Sequence[str]], labels: Sequence[Sequence[int]],
             num_classes: int, cfg: FineTuneConfig = FineTuneConfig(), seed: int = 0,
             init_head: tuple[np.ndarray, np.ndarray] | None = None):
    """(fine-tuned encoder params, head) for `featurizer(..., params=...)` and `head.predict`.

    `init_head` (weights, bias) on raw features starts the head; None fits a logistic regression
    on the frozen features of `sentences` first."""
    pieces = _batches(featurizer, sentences, labels)
    if not pieces:
        raise ValueError("fine-tuning needs at least one training sentence")
    pad = featurizer.tokenizer.pad_token_id
    if init_head is None:
        init_head = probe_head(featurizer, sentences, labels, num_classes)
    head = {"w": jnp.asarray(init_head[0]), "b": jnp.asarray(init_head[1])}
    params = (featurizer.params, head)
    step, tx = _step_fn(featurizer, cfg)
    opt_state = tx.init(params)
    rng = np.random.default_rng(seed)
    bs = min(cfg.batch_size, len(pieces))  # no all-padding rows when the sample is small
    steps_per_epoch = -(-len(pieces) // bs)
    epochs = max(cfg.epochs, -(-cfg.min_steps // steps_per_epoch))
    longest = max(len(t) for t, _ in pieces)
    length = max(32, 1 << (longest - 1).bit_length())  # a power of two: few shapes, few compilations
    for _ in range(epochs):
        order = rng.permutation(len(pieces))
        for b in range(0, len(order), bs):
            chunk = [pieces[i] for i in order[b : b + bs]]
            ids = np.full((bs, length), pad, np.int32)
            mask = np.zeros((bs, length), np.int32)
            target = np.full((bs, length), -1, np.int32)
            for r, (toks, tgt) in enumerate(chunk):
                ids[r, : len(toks)], mask[r, : len(toks)], target[r, : len(toks)] = toks, 1, tgt
            params, opt_state, _ = step(params, opt_state, jnp.asarray(ids), jnp.asarray(mask), jnp.asarray(target))
    enc, h = params
    head_probe = LinearProbe(np.asarray(h["w"]), np.asarray(h["b"]), np.zeros(featurizer.dim, np.float32),
                             np.ones(featurizer.dim, np.float32))
    return enc, head_probe
