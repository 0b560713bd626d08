"""Zero-shot tagging with the dual encoder: offsets on long texts, windows, CLI, bad labels."""

from __future__ import annotations

import pytest

from nuner_jax.eval.zeroshot import ZeroShotTagger
from nuner_jax.models.build import build_dual_encoder, export_dual_encoder


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory, minilm_path):
    out = tmp_path_factory.mktemp("dual")
    export_dual_encoder(build_dual_encoder("minilm", dropout=0.0), out, tokenizer_from=minilm_path)
    return out


def test_long_text_spans_carry_exact_offsets(export_dir):
    sentence = "Angela Merkel met Emmanuel Macron in Paris on Monday. "
    text = sentence * 40  # about 500 tokens: many windows of 32
    tagger = ZeroShotTagger(export_dir, threshold=0.0, max_length=32, stride=20)
    (spans,) = tagger([text], ["person", "city"])
    assert spans and all(text[s.start : s.end] == s.text and 0 <= s.start < s.end <= len(text) for s in spans)
    assert max(s.end for s in spans) >= len(text.rstrip()) - 1  # the end of the text was scored, not cut
    covered = sum(s.end - s.start for s in spans)
    assert covered >= 0.8 * len(text.replace(" ", ""))


def test_short_text_finds_entities_with_offsets(export_dir):
    sentence = "Angela Merkel met Emmanuel Macron in Paris on Monday."
    (spans,) = ZeroShotTagger(export_dir, threshold=0.5)([sentence], ["person", "city", "day"])
    assert all(sentence[s.start : s.end] == s.text for s in spans)
    assert {s.text for s in spans} & {"Angela Merkel", "Paris", "Monday", "Emmanuel Macron"}


def test_bad_labels_and_stride(export_dir):
    tagger = ZeroShotTagger(export_dir)
    with pytest.raises(ValueError, match="labels must be non-empty"):
        tagger(["text"], [])
    with pytest.raises(ValueError, match="stride"):
        ZeroShotTagger(export_dir, max_length=32, stride=40)


def test_texts_packed_together_score_as_when_alone(export_dir):
    """Several short texts share a row (packing); each must get the spans and scores it gets alone."""
    texts = ["Angela Merkel met Emmanuel Macron in Paris.", "Apple opened a store in Tokyo on Monday.",
             "The Nile flows through Egypt.", "Serena Williams won at Wimbledon in 2016."]
    labels = ["person", "city", "organisation", "country"]
    tagger = ZeroShotTagger(export_dir, threshold=0.3)
    together = tagger(texts, labels)
    for text, spans in zip(texts, together):
        (alone,) = tagger([text], labels)
        assert [(s.start, s.end, s.label) for s in spans] == [(s.start, s.end, s.label) for s in alone]
        assert all(abs(a.score - b.score) < 1e-4 for a, b in zip(spans, alone))
    assert any(together)
