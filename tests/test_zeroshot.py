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


def test_zero_shot_spans_map_back_to_benchmark_words():
    from nuner_jax.eval.zeroshot import EntitySpan
    from nuner_jax.data.spans import words_to_text
    from nuner_jax.eval.zeroshot_eval import label_name, spans_to_word_tags

    words = ("Angela", "Merkel", "visited", "New", "York", ".")
    text, offsets = words_to_text(words)
    assert [text[s:e] for s, e in offsets] == list(words)
    spans = [EntitySpan(0, 13, "person", 0.9, "Angela Merkel"), EntitySpan(22, 30, "city", 0.8, "New York")]
    tags = spans_to_word_tags(spans, offsets, {"person": "PER", "city": "LOC"})
    assert tags == ["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O"]
    assert label_name("politicalparty") == "political party" and label_name("cell_line") == "cell line"
    assert label_name("PER", {"PER": "human"}) == "human" and label_name("Some_Type") == "some type"


def test_zero_shot_evaluation_rows_and_bad_input(export_dir):
    from nuner_jax.eval.benchmarks import Sentence
    from nuner_jax.eval.zeroshot_eval import evaluate_dataset

    test = [Sentence(("Angela", "Merkel", "visited", "Paris", "."), ((0, 1, "PER"), (3, 3, "LOC"))),
            Sentence(("Tokyo", "is", "big", "."), ((0, 0, "LOC"),))]
    tagger = ZeroShotTagger(export_dir)
    rows = evaluate_dataset(tagger, "toy", test, thresholds=(0.0, 0.5, 1.01))
    assert [r["threshold"] for r in rows] == [0.0, 0.5, 1.01]
    assert rows[0]["labels"] == {"LOC": "location", "PER": "person"}
    assert rows[-1]["entity_f1_strict"] == 0.0  # nothing clears a threshold above 1
    assert all(0 <= r["entity_f1_default"] <= 100 for r in rows)
    with pytest.raises(ValueError, match="empty test split"):
        evaluate_dataset(tagger, "toy", [], (0.5,))
    with pytest.raises(ValueError, match="no entities"):
        evaluate_dataset(tagger, "toy", [Sentence(("a",), ())], (0.5,))
    with pytest.raises(ValueError, match="one label name"):
        evaluate_dataset(tagger, "toy", [Sentence(("a", "b"), ((0, 0, "PER"), (1, 1, "per")))], (0.5,),
                         label_overrides={"per": "person"})
