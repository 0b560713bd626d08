"""The few-shot protocol's pieces: the k-shot sampler, the metrics against seqeval, the probe."""

from __future__ import annotations

import numpy as np
import pytest
from seqeval.metrics import f1_score
from seqeval.scheme import IOB2

from nuner_jax.eval.benchmarks import Sentence, load_benchmark
from nuner_jax.eval.fewshot import FewShotConfig, aggregate, cap_test, run_dataset
from nuner_jax.eval.linear_probe import fit_probe
from nuner_jax.eval.metrics import entity_f1, io_to_iob2, macro_token_f1, spans_to_iob2
from nuner_jax.eval.sampling import sample_k_shot


def test_k_shot_sampler_on_real_data_is_sufficient_and_reproducible():
    train, _ = load_benchmark("crossner_ai")
    for k in (1, 4, 16):
        idx, short = sample_k_shot(train, k, seed=0)
        assert idx == sample_k_shot(train, k, seed=0)[0]
        for t in {t for s in train for t in s.types}:
            have = sum(t in train[i].types for i in idx)
            assert have >= min(k, sum(t in s.types for s in train))
            assert (t in short) == (sum(t in s.types for s in train) < k)
    assert sample_k_shot(train, 4, seed=1)[0] != sample_k_shot(train, 4, seed=0)[0]


def test_k_larger_than_the_data_falls_back_and_reports():
    pool = [Sentence(("a", "b"), ((0, 0, "X"),)), Sentence(("c",), ((0, 0, "Y"),)), Sentence(("d",), ((0, 0, "Y"),))]
    idx, short = sample_k_shot(pool, 5, seed=0)
    assert sorted(idx) == [0, 1, 2] and short == {"X": 1, "Y": 2}
    with pytest.raises(ValueError, match="no entities"):
        sample_k_shot([Sentence(("a",), ())], 1, 0)
    with pytest.raises(ValueError, match="k must be"):
        sample_k_shot(pool, 0, 0)


def test_entity_metrics_agree_with_seqeval():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "I-ORG", "I-ORG"]]
    pred = [["B-PER", "I-PER", "O", "O"], ["O", "I-ORG", "I-ORG", "I-ORG"]]
    got = entity_f1(gold, pred)
    assert got["entity_f1_strict"] == pytest.approx(f1_score(gold, pred, mode="strict", scheme=IOB2))
    assert got["entity_f1_default"] == pytest.approx(f1_score(gold, pred))
    assert got["entity_f1_strict"] < got["entity_f1_default"]  # the I- start counts only leniently


def test_macro_token_f1_by_hand():
    gold = [["PER", "PER", "O", "LOC"]]
    pred = [["PER", "O", "O", "PER"]]
    # PER: tp 1, fp 1, fn 1 -> 0.5; LOC: tp 0 -> 0
    assert macro_token_f1(gold, pred, ["PER", "LOC"]) == pytest.approx(0.25)
    assert io_to_iob2(["PER", "PER", "O", "LOC", "LOC"]) == ["B-PER", "I-PER", "O", "B-LOC", "I-LOC"]
    assert spans_to_iob2(4, [(0, 1, "PER"), (3, 3, "LOC")]) == ["B-PER", "I-PER", "O", "B-LOC"]


def test_linear_probe_separates_separable_data():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-2, 1, (50, 4)), rng.normal(2, 1, (50, 4))]).astype(np.float32)
    y = np.array([0] * 50 + [1] * 50)
    probe = fit_probe(x, y, 2)
    assert (probe.predict(x) == y).mean() > 0.95


def test_protocol_on_a_real_dataset_with_the_offline_minilm():
    from nuner_jax.eval.features import WordFeaturizer

    train, test = load_benchmark("crossner_politics")
    featurizer = WordFeaturizer("minilm")
    rows = run_dataset(featurizer, "minilm", "crossner_politics", train, test,
                       FewShotConfig(ks=(4,), seeds=(0, 1), test_cap=200))
    assert len(rows) == 2 and all(r["test_sentences"] == 200 for r in rows)
    assert all(5 < r["macro_token_f1"] < 80 for r in rows)
    agg = aggregate(rows)
    assert set(agg["minilm"]) == {"crossner_politics", "mean"}
    assert len(cap_test(test, 200)) == 200 and cap_test(test, 200) == cap_test(test, 200)


def test_empty_test_split_is_an_error(tmp_path):
    from nuner_jax.eval.features import WordFeaturizer

    pool = [Sentence(("Paris",), ((0, 0, "LOC"),))]
    with pytest.raises(ValueError, match="empty test split"):
        run_dataset(WordFeaturizer("minilm"), "m", "d", pool, [], FewShotConfig(ks=(1,), seeds=(0,)))


def test_mlp_probe_fits_a_non_linear_problem():
    from nuner_jax.eval.mlp_probe import fit_mlp

    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (400, 2)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)  # XOR: no linear head separates it
    assert (fit_probe(x, y, 2).predict(x) == y).mean() < 0.7
    assert (fit_mlp(x, y, 2, steps=400, seed=0).predict(x) == y).mean() > 0.9


def _toy_ner():
    people = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank"]
    cities = ["Paris", "Tokyo", "Lima", "Oslo", "Cairo", "Quito"]
    train = [Sentence((p, "flew", "to", c, "today"), ((0, 0, "PER"), (3, 3, "LOC"))) for p, c in zip(people, cities)]
    return train


def test_full_fine_tuning_moves_the_encoder_and_learns_the_sample(small_bert_dir):
    from nuner_jax.eval.features import WordFeaturizer
    from nuner_jax.eval.finetune import FineTuneConfig, finetune

    featurizer = WordFeaturizer(small_bert_dir)
    train = _toy_ner()
    classes = {"O": 0, "PER": 1, "LOC": 2}
    labels = [[classes[t] for t in ["PER", "O", "O", "LOC", "O"]] for _ in train]
    params, head = finetune(featurizer, [s.words for s in train], labels, 3,
                            FineTuneConfig(epochs=30, learning_rate=1e-3, head_learning_rate=1e-2), seed=0)
    before = np.concatenate(featurizer([s.words for s in train]))
    after = np.concatenate(featurizer([s.words for s in train], params=params))
    assert np.abs(after - before).max() > 1e-3  # the encoder itself was trained
    pred = head.predict(after)
    assert (pred == np.concatenate(labels)).mean() > 0.9


@pytest.mark.parametrize("method", ["mlp", "finetune"])
def test_protocol_runs_with_each_head(method, small_bert_dir):
    from nuner_jax.eval.features import WordFeaturizer
    from nuner_jax.eval.finetune import FineTuneConfig

    train = _toy_ner()
    cfg = FewShotConfig(ks=(2,), seeds=(0,), head="mlp" if method == "mlp" else "linear",
                        finetune=method == "finetune", finetune_cfg=FineTuneConfig(epochs=2))
    rows = run_dataset(WordFeaturizer(small_bert_dir), "m", "toy", train, train[:3], cfg)
    assert len(rows) == 1 and rows[0]["method"] == method and 0 <= rows[0]["macro_token_f1"] <= 100
    with pytest.raises(ValueError, match="head must be"):
        FewShotConfig(head="svm")


def test_fallbacks_are_reported():
    from nuner_jax.eval.report import fallback_notes

    rows = [{"dataset": "d", "k": 16, "short_types": {"X": 3}, "unseen_test_types": ["Z"]},
            {"dataset": "e", "k": 16, "short_types": {}, "unseen_test_types": []}]
    text = fallback_notes(rows)
    assert "d: k=16: X (3 available)" in text and "absent from the train pool: Z" in text and "- e" not in text
    assert "none" in fallback_notes(rows[1:])


def test_fewshot_report_merges_runs_and_refuses_duplicates(tmp_path, capsys):
    import json

    from nuner_jax.cli import main

    def row(model, k, seed, f1):
        return {"model": model, "dataset": "d", "k": k, "seed": seed, "macro_token_f1": f1,
                "entity_f1_strict": f1, "entity_f1_default": f1, "short_types": {}, "unseen_test_types": []}

    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps({"models": {"base": "minilm"}, "rows": [row("base", 4, 0, 20.0), row("base", 4, 1, 22.0)]}))
    b.write_text(json.dumps({"models": {"new": "x"}, "rows": [row("new", 4, 0, 40.0), row("new", 4, 1, 44.0)]}))
    assert main(["fewshot-report", str(a), str(b), "--out", str(tmp_path / "out")]) == 0
    merged = json.loads((tmp_path / "out" / "fewshot.json").read_text())
    assert len(merged["rows"]) == 4 and set(merged["models"]) == {"base", "new"}
    md = (tmp_path / "out" / "fewshot.md").read_text()
    assert "| new | 4 | 42.0 ± 2.0 | 42.0 ± 2.0 |" in md and (tmp_path / "out" / "fewshot.png").exists()
    assert main(["fewshot-report", str(a), str(a), "--out", str(tmp_path / "dup")]) == 2
    assert "duplicate result" in capsys.readouterr().err
