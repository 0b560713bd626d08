"""prepare (tokenise, align, windows, shards) and the step-indexed loader (shuffle, pack, slice, concepts)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import shared_data
from nuner_jax.data.example import Example, Span
from nuner_jax.data.formats import nuner
from nuner_jax.data.loader import LoaderConfig, PretrainBatches, pack_rows
from nuner_jax.data.prepare import PrepareConfig, load_tokenizer, prepare
from nuner_jax.data.shards import open_split
from nuner_jax.data.vocab import ConceptVocab


@pytest.fixture(scope="module")
def pilot_shards(tmp_path_factory):
    out = tmp_path_factory.mktemp("pilot")
    info = prepare([shared_data("llm_annotated_pilot/annotations.jsonl")], out, PrepareConfig(eval_fraction=0.1))
    return out, info


def test_prepare_counts_vocab_and_token_alignment(pilot_shards):
    out, info = pilot_shards
    assert info["examples"] == 400
    assert info["splits"]["train"]["records"] + info["splits"]["eval"]["records"] == 400  # short: no windows
    assert info["concepts"] == 1044  # as SOURCE.md counts the pilot's unique concepts
    assert info["rejects"]["total"] == 0
    vocab = ConceptVocab.load(out / "concepts.json")
    # 121 annotations (SOURCE.md); counts are located spans, and a repeated string counts at each occurrence
    assert vocab.names[0] == "country" and vocab.counts[0] >= 121
    tok = load_tokenizer("minilm")
    source = open_split(out, "train")
    checked = 0
    for i in range(50):
        rec = source[i]
        assert rec["input_ids"][0] == tok.cls_token_id and rec["input_ids"][-1] == tok.sep_token_id
        for first, last, concept in rec["spans"]:
            piece = tok.decode(rec["input_ids"][first : last + 1]).replace(" ", "")
            assert piece and vocab.names[concept]
            checked += 1
    assert checked > 200


def test_spans_decode_to_their_entity_text(pilot_shards):
    out, _ = pilot_shards
    tok = load_tokenizer("minilm")
    raw = {json.loads(line)["id"]: json.loads(line) for line in shared_data("llm_annotated_pilot/annotations.jsonl").open()}
    vocab = ConceptVocab.load(out / "concepts.json")
    source = open_split(out, "train")
    for i in range(40):
        rec = source[i]
        entities = {a.split(" <> ")[0].lower().replace(" ", ""): a.split(" <> ")[1] for a in raw[rec["id"].decode()]["output"]}
        for first, last, concept in rec["spans"]:
            text = tok.decode(rec["input_ids"][first : last + 1]).replace(" ", "")
            assert text in entities, (rec["id"], text)
            assert vocab.names[concept] == entities[text]


def test_prepare_is_deterministic(tmp_path):
    path = shared_data("llm_annotated_pilot/annotations.jsonl")
    a = prepare([path], tmp_path / "a", PrepareConfig(eval_fraction=0.1, seed=3))
    b = prepare([path], tmp_path / "b", PrepareConfig(eval_fraction=0.1, seed=3))
    assert a["splits"] == b["splits"] and a["concepts"] == b["concepts"]
    shards_a = sorted((tmp_path / "a" / "tfds").rglob("*.array_record-*"))
    shards_b = sorted((tmp_path / "b" / "tfds").rglob("*.array_record-*"))
    assert shards_a and [p.name for p in shards_a] == [p.name for p in shards_b]
    for pa, pb in zip(shards_a, shards_b):
        assert pa.read_bytes() == pb.read_bytes()
    np.testing.assert_array_equal(np.load(tmp_path / "a" / "train.index.npz")["lengths"],
                                  np.load(tmp_path / "b" / "train.index.npz")["lengths"])
    assert (tmp_path / "a" / "concepts.json").read_text() == (tmp_path / "b" / "concepts.json").read_text()


def test_long_text_is_windowed_not_truncated(tmp_path):
    words = [f"word{i}" for i in range(300)]
    text = " ".join(words)
    first = Span(0, len("word0 word1"), "start pair")
    last_start = text.index("word299")
    last = Span(last_start, len(text), "end word")
    middle_start = text.index("word150")
    middle = Span(middle_start, middle_start + len("word150"), "middle word")
    src = nuner.write_jsonl([Example("long", text, (first, middle, last))], tmp_path / "long.jsonl")
    info = prepare([src], tmp_path / "out", PrepareConfig(max_length=64, stride=40, eval_fraction=0.0))
    source = open_split(tmp_path / "out", "train")
    records = [source[i] for i in range(len(source))]
    assert len(records) > 1 and all(len(r["input_ids"]) <= 64 for r in records)
    vocab = ConceptVocab.load(tmp_path / "out" / "concepts.json")
    seen = {vocab.names[c] for r in records for *_, c in r["spans"]}
    assert seen == {"start pair", "end word", "middle word"}
    assert info["rejects"]["total"] == 0
    tok = load_tokenizer("minilm")
    covered = set()
    for r in records:
        covered |= set(r["input_ids"][1:-1].tolist())
    assert covered == set(tok(text, add_special_tokens=False)["input_ids"])  # every token is in some window


def test_empty_input_set_is_an_error(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(ValueError, match="no usable examples"):
        prepare([empty], tmp_path / "out")


def _loader(out, **kw):
    cfg = LoaderConfig(**{"batch_size": 8, "max_concepts": 256, "num_negatives": 16, **kw})
    return PretrainBatches(out, "train", cfg)


def test_batches_are_deterministic_and_labels_match_spans(pilot_shards):
    out, _ = pilot_shards
    loader = _loader(out)
    a, b = loader.batch(3), loader.batch(3)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    # labels only on real, non-special tokens; every present concept has a label somewhere
    assert not (a["labels"] & ~a["token_mask"][..., None]).any()
    positives = a["labels"].any((0, 1))
    n_pos = int(positives.sum())
    assert int(a["concept_overflow"]) == 0
    assert n_pos > 0 and positives[:n_pos].all() and not positives[n_pos:].any()
    slots = a["concept_mask"].sum()
    assert slots == n_pos + 16  # positives then the sampled negatives


def test_packing_keeps_sentences_apart_and_covers_the_epoch(pilot_shards):
    out, _ = pilot_shards
    packed = _loader(out, pack=True)
    padded = _loader(out, pack=False)
    b = packed.batch(0)
    seg = b["segment_ids"]
    assert seg.max() > 1  # several sentences in a row
    for row in seg:  # segments are contiguous runs 1, 2, 3 ... then padding
        runs = [int(v) for i, v in enumerate(row) if v and (i == 0 or row[i - 1] != v)]
        assert runs == list(range(1, len(runs) + 1))
    ids_packed = sorted(i for s in range(packed.steps_per_epoch) for row in packed.rows_of(s) for i in row)
    ids_padded = sorted(i for s in range(padded.steps_per_epoch) for row in padded.rows_of(s) for i in row)
    assert len(set(ids_packed)) == len(ids_packed)
    n = len(packed.index)
    assert len(ids_padded) == (n // 8) * 8 and len(ids_packed) >= n - 8 * 10
    real_packed = (b["segment_ids"] > 0).mean()
    real_padded = (padded.batch(0)["segment_ids"] > 0).mean()
    assert real_packed > 1.5 * real_padded


def test_best_fit_packing_places_every_record_once_and_fills_rows():
    rng = np.random.default_rng(0)
    # NuNER's mix: many short sentences and some full 128-token windows of long texts.
    lengths = np.where(rng.random(2000) < 0.2, 128, rng.integers(8, 60, 2000))
    order = rng.permutation(len(lengths))
    fill = {}
    for open_rows in (1, 8):
        rows = pack_rows(order, lengths, 128, True, open_rows)
        assert sorted(i for r in rows for i in r) == list(range(len(lengths)))  # each record exactly once
        assert all(lengths[r].sum() <= 128 for r in rows)
        assert rows == pack_rows(order, lengths, 128, True, open_rows)  # deterministic
        fill[open_rows] = lengths.sum() / (128 * len(rows))
    assert fill[8] > 0.95 and fill[8] > fill[1] + 0.1
    # One open row is greedy packing in order: rows are contiguous runs of `order`.
    greedy = pack_rows(order, lengths, 128, True, 1)
    assert [i for r in greedy for i in r] == order.tolist()
    with pytest.raises(ValueError, match="open_rows"):
        pack_rows(order, lengths, 128, True, 0)


def test_process_slices_assemble_the_global_batch(pilot_shards):
    out, _ = pilot_shards
    cfg = LoaderConfig(batch_size=8, max_concepts=128, num_negatives=16)
    whole = PretrainBatches(out, "train", cfg, 0, 1).batch(2)
    parts = [PretrainBatches(out, "train", cfg, p, 2).batch(2) for p in range(2)]
    for k in ("input_ids", "segment_ids", "labels", "token_mask"):
        np.testing.assert_array_equal(np.concatenate([p[k] for p in parts]), whole[k])
    for k in ("concept_ids", "concept_mask"):  # global: identical on every process
        np.testing.assert_array_equal(parts[0][k], whole[k])
        np.testing.assert_array_equal(parts[1][k], whole[k])


def test_restored_iterator_continues_with_identical_batches(pilot_shards):
    out, _ = pilot_shards
    loader = _loader(out)
    straight = list(loader.iterate(0, 6))
    resumed = list(_loader(out).iterate(4, 6))  # a new loader restored at step 4
    for a, b in zip(straight[4:], resumed):
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
    second_epoch = loader.batch(loader.steps_per_epoch)
    assert not np.array_equal(second_epoch["input_ids"], loader.batch(0)["input_ids"])  # reshuffled


def test_missing_or_empty_shard_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        PretrainBatches(tmp_path / "absent", "train", LoaderConfig())
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="nuner_info.json: missing"):
        PretrainBatches(tmp_path / "empty", "train", LoaderConfig())


def test_ablation_knobs_data_size_and_concept_diversity(pilot_shards):
    out, _ = pilot_shards
    small = _loader(out, max_records=40)
    seen = {i for s in range(small.steps_per_epoch) for row in small.rows_of(s) for i in row}
    seen2 = {i for s in range(small.steps_per_epoch, 2 * small.steps_per_epoch) for row in small.rows_of(s)
             for i in row}
    assert len(seen) <= 40 and seen2 <= set(range(len(small.index))) and len(seen | seen2) <= 40
    capped = _loader(out, concept_vocab_cap=10)
    b = capped.batch(0)
    assert int(b["concept_mask"].sum()) <= 10  # positives and negatives come from the 10 most frequent
    assert capped.num_concepts == 10
    full = _loader(out).batch(0)
    assert b["labels"].sum() < full["labels"].sum()
