"""A few-shot tagger exported to transformers gives the Flax model's logits and spans."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
import torch
from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline

from nuner_jax.convert.hf import load_encoder
from nuner_jax.eval.benchmarks import load_benchmark
from nuner_jax.eval.metrics import io_to_iob2
from nuner_jax.eval.sampling import sample_k_shot
from nuner_jax.eval.token_classifier import export_token_classifier, fit_tagger


@pytest.fixture(scope="module")
def tagger_and_export(tmp_path_factory, minilm_path):
    train, test = load_benchmark("crossner_politics")
    idx, _ = sample_k_shot(train, 4, seed=0)
    tagger = fit_tagger("minilm", [train[i] for i in idx])
    out = export_token_classifier(tagger, tmp_path_factory.mktemp("tc") / "tagger")
    return tagger, out, test[:60]


def test_exported_logits_match_flax(tagger_and_export, minilm_path):
    tagger, out, test = tagger_and_export
    model, info = AutoModelForTokenClassification.from_pretrained(str(out), output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    tok = AutoTokenizer.from_pretrained(str(out))
    enc = tok([list(s.words) for s in test[:4]], is_split_into_words=True, padding=True, return_tensors="np")
    with torch.no_grad():
        pt = model.eval()(**{k: torch.tensor(v) for k, v in enc.items()}).logits.numpy()
    encoder, _ = load_encoder(minilm_path)
    encoder.eval()
    hidden = np.asarray(encoder(jnp.asarray(enc["input_ids"]), jnp.asarray(enc["attention_mask"])).last_hidden_state)
    flax_logits = tagger.probe.logits(hidden.reshape(-1, hidden.shape[-1])).reshape(pt.shape)
    valid = enc["attention_mask"].astype(bool)
    assert np.abs(pt[valid] - flax_logits[valid]).max() < 1e-4


def test_pipeline_spans_match_flax_predictions(tagger_and_export):
    tagger, out, test = tagger_and_export
    ner = pipeline("ner", model=str(out), aggregation_strategy="first")
    # transformers' "words" are its pre-tokenizer's (it splits "Charles-Ferdinand" in three); compare the
    # sentences where those and whitespace words coincide
    test = [s for s in test if all(w.isalnum() or len(w) == 1 for w in s.words)]
    assert len(test) >= 5
    predicted = tagger.predict([s.words for s in test])
    for sentence, labels in zip(test, predicted):
        text = " ".join(sentence.words)
        ours, pos = [], 0
        starts = []
        for w in sentence.words:
            starts.append(pos)
            pos += len(w) + 1
        tags = io_to_iob2(labels)
        i = 0
        while i < len(tags):
            if tags[i].startswith("B-"):
                j = i
                while j + 1 < len(tags) and tags[j + 1] == "I-" + tags[i][2:]:
                    j += 1
                ours.append((starts[i], starts[j] + len(sentence.words[j]), tags[i][2:]))
                i = j + 1
            else:
                i += 1
        theirs = [(e["start"], e["end"], e["entity_group"]) for e in ner(text)]
        assert theirs == ours, (text, theirs, ours)


def test_two_emb_features_cannot_be_exported(tmp_path):
    train, _ = load_benchmark("crossner_ai")
    tagger = fit_tagger("minilm", train[:5], layers=(-1, -7))
    with pytest.raises(ValueError, match="only last-layer features"):
        export_token_classifier(tagger, tmp_path / "x")
