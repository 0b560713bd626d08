"""Regression guard for sequence packing: the same sentences, packed several to a row or one per
padded row, must give the same NuNER loss, decision counts and gradients (no cross-sentence
attention, positions restart per sentence, labels land on the right tokens)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import shared_data
from flax import nnx

from nuner_jax.data.loader import LoaderConfig, PretrainBatches
from nuner_jax.data.prepare import PrepareConfig, prepare
from nuner_jax.models.build import build_dual_encoder
from nuner_jax.models.dual_encoder import HeadConfig
from nuner_jax.train.losses import LossConfig, concept_bce

LOSS = LossConfig(pos_weight=5.0)


@nnx.jit
def _loss_and_grads(model, batch):
    def loss_fn(m):
        logits = m(batch)
        return concept_bce(logits, batch["labels"], batch["token_mask"], batch["concept_mask"], LOSS)

    (loss, stats), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model)
    return loss, stats, grads


@pytest.mark.parametrize("family", ["bert", "roberta"])
def test_packed_and_padded_batches_give_the_same_loss(family, small_bert_dir, small_roberta_dir, tmp_path):
    model_dir = small_bert_dir if family == "bert" else small_roberta_dir
    shards = tmp_path / "shards"
    prepare([shared_data("llm_annotated_pilot/annotations.jsonl")], shards,
            PrepareConfig(tokenizer=str(model_dir), eval_fraction=0.0, max_length=64, stride=48))
    cfg = LoaderConfig(batch_size=4, max_length=128, pack=True, max_concepts=96, num_negatives=8)
    loader = PretrainBatches(shards, "train", cfg)
    step = 3
    rows = loader.rows_of(step)
    sentences = [r for row in rows for r in row]
    assert len(sentences) > len(rows), "the packed batch should hold several sentences per row"
    packed = loader.assemble(step, rows, rows)
    one_per_row = [[r] for r in sentences]
    padded = loader.assemble(step, one_per_row, one_per_row)
    assert packed["labels"].sum() == padded["labels"].sum() > 0
    np.testing.assert_array_equal(packed["concept_ids"], padded["concept_ids"])

    model = build_dual_encoder(str(model_dir), head=HeadConfig(), seed=0, dropout=0.0)
    model.eval()
    to_jax = lambda b: {k: jnp.asarray(v) for k, v in b.items()}
    loss_p, stats_p, grads_p = _loss_and_grads(model, to_jax(packed))
    loss_u, stats_u, grads_u = _loss_and_grads(model, to_jax(padded))

    np.testing.assert_allclose(float(loss_p), float(loss_u), rtol=1e-5)
    for key in ("pairs", "positives", "tp", "fp", "fn"):
        assert float(stats_p[key]) == float(stats_u[key]), key
    flat_p = jax.tree.leaves(grads_p)
    flat_u = jax.tree.leaves(grads_u)
    # Relative per leaf; leaves whose true gradient is zero (attention key biases) are compared on the
    # scale of the largest gradient, since float noise is all they hold.
    floor = 1e-6 * max(float(jnp.abs(b).max()) for b in flat_u)
    worst = max(float(jnp.abs(a - b).max() / max(float(jnp.abs(b).max()), floor)) for a, b in zip(flat_p, flat_u))
    assert worst < 1e-3, f"packed and padded gradients differ (worst relative difference {worst:.2e})"


def test_packing_bug_would_be_caught(small_bert_dir, tmp_path):
    """The guard is sensitive: letting packed sentences see each other changes the loss."""
    shards = tmp_path / "shards"
    prepare([shared_data("llm_annotated_pilot/annotations.jsonl")], shards,
            PrepareConfig(tokenizer=str(small_bert_dir), eval_fraction=0.0, max_length=64, stride=48))
    loader = PretrainBatches(shards, "train", LoaderConfig(batch_size=4, max_length=64, max_concepts=96,
                                                           num_negatives=8))
    rows = loader.rows_of(0)
    packed = loader.assemble(0, rows, rows)
    leaky = dict(packed, segment_ids=(packed["segment_ids"] > 0).astype(np.int32))  # one segment per row
    model = build_dual_encoder(str(small_bert_dir), head=HeadConfig(), seed=0, dropout=0.0)
    model.eval()
    good = _loss_and_grads(model, {k: jnp.asarray(v) for k, v in packed.items()})[0]
    bad = _loss_and_grads(model, {k: jnp.asarray(v) for k, v in leaky.items()})[0]
    assert abs(float(good) - float(bad)) > 1e-4 * abs(float(good))
