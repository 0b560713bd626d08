"""Readers on the real files of ../shared/data: counts as in SOURCE.md, exact spans, lossless writers."""

from __future__ import annotations

import json

import pytest

from conftest import shared_data
from nuner_jax.data.example import DataFormatError, Rejects
from nuner_jax.data.formats import conll, gliner, hf_tokens, nuner, read_examples
from nuner_jax.data.spans import find_occurrences


@pytest.mark.parametrize(
    "rel, sentences, entities",
    [
        ("conll2003/train.txt", 14041, 23429),
        ("conll2003/test.txt", 3453, 5628),
        ("crossner/ai/train.txt", 100, 532),
        ("crossner/music/test.txt", 465, 3336),
        ("crossner/politics/dev.txt", 541, 3482),
        ("broad_twitter_corpus/splits/btc.train", 6338, 8779),
        ("broad_twitter_corpus/splits/btc.test", 2001, 4376),
        ("bionlp2004_jnlpba/test.tsv", 3856, 8662),
        ("pilener_subset_slimer/bio_391xALL/dev.txt", 2217, 30978),
    ],
)
def test_conll_counts_match_source_md(rel, sentences, entities):
    rejects = Rejects()
    examples = list(read_examples(shared_data(rel), rejects=rejects))
    assert len(examples) == sentences
    assert sum(len(e.spans) for e in examples) == entities
    # Only repairs of I- tags that open a span are reported; nothing is lost.
    assert all(r["reason"].startswith("tag repaired") for r in rejects.items)


def test_pile_ner_types_with_spaces_and_span_texts():
    examples = list(read_examples(shared_data("pilener_subset_slimer/bio_391xALL/dev.txt")))
    types = {s.concept for e in examples for s in e.spans}
    assert "medical condition" in types and len(types) == 368
    for e in examples[:300]:
        for s in e.spans:
            assert e.span_text(s) == e.span_text(s).strip() and e.span_text(s)


def test_pilot_jsonl_every_span_is_its_entity_text():
    rejects = Rejects()
    path = shared_data("llm_annotated_pilot/annotations.jsonl")
    examples = list(read_examples(path, rejects=rejects))
    assert len(examples) == 400 and len(rejects) == 0
    annotations = sum(len(json.loads(line)["output"]) for line in path.open())
    assert annotations == 2294
    distinct = {(e.id, e.span_text(s), s.concept) for e in examples for s in e.spans}
    assert len(distinct) == 2294  # every annotation located at least once
    raw = {json.loads(line)["id"]: json.loads(line) for line in path.open()}
    for e in examples:
        entities = {a.split(" <> ")[0] for a in raw[e.id]["output"]}
        assert {e.span_text(s) for s in e.spans} <= entities
    # conll2003-3085: 'Cuba' must not be matched inside 'Cuban'.
    cuba = next(e for e in examples if e.id == "conll2003-3085")
    assert all(e.text[s.end : s.end + 1] != "n" for s in cuba.spans if e.span_text(s) == "Cuba")


def test_llm_annotated_btc_counts():
    rejects = Rejects()
    examples = list(read_examples(shared_data("llm_annotated/btc.jsonl"), rejects=rejects))
    assert len(examples) == 3336
    # Annotations whose string only occurs inside a longer word are counted, never dropped silently.
    assert all(r["reason"] == "annotation skipped: span not found in text" for r in rejects.items)
    assert sum(len(e.spans) for e in examples) > 19385 - len(rejects)


@pytest.mark.parametrize(
    "rel",
    ["crossner/ai/dev.txt", "broad_twitter_corpus/splits/btc.dev", "bionlp2004_jnlpba/devel.tsv"],
)
@pytest.mark.parametrize("writer, fmt", [(conll.write_conll, "conll"), (gliner.write_json, "gliner"),
                                         (hf_tokens.write_jsonl, "hf-tokens")])
def test_word_level_round_trips(rel, writer, fmt, tmp_path):
    original = list(read_examples(shared_data(rel)))
    out = writer(original, tmp_path / ("out.txt" if fmt == "conll" else "out.json"))
    back = list(read_examples(out, format=fmt))
    assert [(e.text, e.spans) for e in back] == [(e.text, e.spans) for e in original]


def test_nuner_jsonl_round_trip(tmp_path):
    original = list(read_examples(shared_data("llm_annotated_pilot/annotations.jsonl")))
    back = list(read_examples(nuner.write_jsonl(original, tmp_path / "o.jsonl")))
    assert [(e.id, e.text, e.spans) for e in back] == [(e.id, e.text, e.spans) for e in original]


def test_nuner_csv_hub_format(tmp_path):
    path = tmp_path / "nuner.csv"
    path.write_text(
        'input,output\n'
        '"Paris is in France.","[\'Paris <> city\', \'France <> country <> a nation\']"\n'
        '"A concept here.","[\'concept <> concept\']"\n'
        '"Broken row","not a list"\n'
        '"Nothing found.","[\'Berlin <> city\', \'no separator\']"\n'
    )
    rejects = Rejects()
    examples = list(read_examples(path, rejects=rejects))
    assert [e.text for e in examples] == ["Paris is in France.", "Nothing found."]
    assert [(examples[0].span_text(s), s.concept, s.description) for s in examples[0].spans] == [
        ("Paris", "city", None), ("France", "country", "a nation")]
    reasons = [r["reason"] for r in rejects.items]
    assert reasons == [
        "sentence dropped: concept 'concept' (as in the paper)",
        "malformed 'output': not a Python list literal",
        "annotation skipped: span not found in text",
        "annotation skipped: no '<>' separator",
    ]
    assert [r["where"] for r in rejects.items] == ["row-3", 4, "row-5", "row-5"]


def test_bad_jsonl_lines_are_counted_and_written(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(
        b'{"id": "a", "input": "Rome is old.", "output": ["Rome <> city"]}\n'
        b'{"id": "b", "input": broken\n'
        b'{"id": "c", "input": "", "output": []}\n'
        b'{"id": "d", "input": "Caf\xe9 bytes", "output": []}\n'
        b'{"id": "e", "input": "No output list", "output": 5}\n'
    )
    rejects = Rejects()
    examples = list(read_examples(path, rejects=rejects))
    assert [e.id for e in examples] == ["a"]
    assert [r["where"] for r in rejects.items] == [2, "c", 4, 5]
    assert "malformed JSON" in rejects.items[0]["reason"]
    assert rejects.items[1]["reason"] == "empty text"
    assert "not UTF-8" in rejects.items[2]["reason"]
    written = rejects.write(tmp_path / "rejects.jsonl")
    assert len(written.read_text().splitlines()) == 4


def test_gliner_span_out_of_range_is_rejected(tmp_path):
    path = tmp_path / "g.json"
    path.write_text(json.dumps([{"tokenized_text": ["a", "b"], "ner": [[0, 0, "x"], [1, 5, "y"]]},
                                {"tokenized_text": [], "ner": []}]))
    rejects = Rejects()
    examples = list(read_examples(path, rejects=rejects))
    assert len(examples) == 1 and len(examples[0].spans) == 1
    assert [r["reason"].split(":")[0] for r in rejects.items] == ["span out of range or malformed", "empty text"]


def test_conll_tag_first_and_space_separated(tmp_path):
    path = tmp_path / "x.conll"
    path.write_text("-DOCSTART- O\n\nB-PER John\nI-PER Smith\nO runs\n\nO x\n")
    examples = list(read_examples(path))
    assert examples[0].text == "John Smith runs"
    assert [(examples[0].span_text(s), s.concept) for s in examples[0].spans] == [("John Smith", "PER")]


def test_empty_input_set_and_non_utf8_csv(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert list(read_examples(empty, format="nuner-jsonl")) == []
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"input,output\n\"ok\",\"[]\"\n\"\xff\",\"[]\"\n")
    with pytest.raises(DataFormatError, match=r"bad.csv:3: not UTF-8"):
        list(read_examples(bad))


def test_find_occurrences_word_boundaries():
    assert find_occurrences("Cuban Cuba, cuba Cuba", "Cuba") == [(6, 10), (17, 21)]
    assert find_occurrences("#tag and tag", "tag") == [(1, 4), (9, 12)]
    assert find_occurrences("U.S. and U.S.", "U.S.") == [(0, 4), (9, 13)]
