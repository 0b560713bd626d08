"""The Flax encoder reproduces transformers' PyTorch models hidden state by hidden state."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from nuner_jax.convert.hf import load_encoder

SENTENCES = [
    "Barack Obama was president of the United States.",
    "Apple released a phone.",
    "Proteins such as IL-2 bind receptors on T cells in the blood near Paris on Monday.",
]


def _max_hidden_diff(model_dir, sentences=SENTENCES):
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    batch = tok(sentences, padding=True, return_tensors="np")
    pt = AutoModel.from_pretrained(str(model_dir)).eval()
    with torch.no_grad():
        ref = pt(**{k: torch.tensor(v) for k, v in batch.items()}, output_hidden_states=True).hidden_states
    model, _ = load_encoder(model_dir)
    model.eval()
    out = model(
        jnp.asarray(batch["input_ids"]),
        jnp.asarray(batch["attention_mask"]),
        jnp.asarray(batch["token_type_ids"]) if "token_type_ids" in batch else None,
    )
    assert len(out.hidden_states) == len(ref)
    valid = batch["attention_mask"][..., None].astype(bool)
    # Padded positions are garbage in both implementations; compare real tokens.
    return [float(np.abs(np.where(valid, r.numpy() - np.asarray(o), 0)).max()) for r, o in zip(ref, out.hidden_states)]


@pytest.mark.parametrize("family", ["bert", "roberta"])
def test_small_random_checkpoints_match_pytorch(family, small_bert_dir, small_roberta_dir):
    model_dir = small_bert_dir if family == "bert" else small_roberta_dir
    diffs = _max_hidden_diff(model_dir)
    assert max(diffs) < 1e-4, diffs


def test_real_minilm_matches_pytorch(minilm_path):
    diffs = _max_hidden_diff(minilm_path)
    assert len(diffs) == 7
    assert max(diffs) < 1e-4, diffs


def test_bfloat16_compute_stays_close(small_bert_dir):
    tok = AutoTokenizer.from_pretrained(str(small_bert_dir))
    batch = tok(SENTENCES, padding=True, return_tensors="np")
    f32, _ = load_encoder(small_bert_dir)
    bf16, _ = load_encoder(small_bert_dir, dtype="bfloat16")
    f32.eval(), bf16.eval()
    a = f32(jnp.asarray(batch["input_ids"]), jnp.asarray(batch["attention_mask"])).last_hidden_state
    b = bf16(jnp.asarray(batch["input_ids"]), jnp.asarray(batch["attention_mask"])).last_hidden_state
    assert b.dtype == jnp.bfloat16
    assert bf16.layers[0].attention.query.kernel.get_value().dtype == jnp.float32
    assert float(jnp.abs(a - b.astype(jnp.float32)).max()) < 0.15


def test_remat_gives_same_outputs(small_roberta_dir):
    ids = jnp.array([[0, 10, 11, 12, 2, 1, 1]])
    mask = (ids != 1).astype(jnp.int32)
    plain, _ = load_encoder(small_roberta_dir)
    remat, _ = load_encoder(small_roberta_dir, remat=True)
    plain.eval(), remat.eval()
    np.testing.assert_allclose(plain(ids, mask).last_hidden_state, remat(ids, mask).last_hidden_state, atol=1e-6)


@pytest.mark.parametrize("family", ["bert", "roberta"])
def test_packed_segments_equal_separate_sentences(family, small_bert_dir, small_roberta_dir):
    """Two sentences packed in one row with segment ids give the states they have alone."""
    model_dir = small_bert_dir if family == "bert" else small_roberta_dir
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model, _ = load_encoder(model_dir)
    model.eval()
    a = tok(SENTENCES[0])["input_ids"]
    b = tok(SENTENCES[1])["input_ids"]
    pad = tok.pad_token_id
    packed = np.array([a + b + [pad] * 3])
    segments = np.array([[1] * len(a) + [2] * len(b) + [0] * 3])
    out = model(jnp.asarray(packed), segment_ids=jnp.asarray(segments)).last_hidden_state[0]
    alone_a = model(jnp.asarray([a])).last_hidden_state[0]
    alone_b = model(jnp.asarray([b])).last_hidden_state[0]
    np.testing.assert_allclose(out[: len(a)], alone_a, atol=1e-5)
    np.testing.assert_allclose(out[len(a) : len(a) + len(b)], alone_b, atol=1e-5)
    assert not np.isnan(np.asarray(out)).any()
