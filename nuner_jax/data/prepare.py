"""`prepare`: annotation files -> concept vocabulary + pre-tokenised ArrayRecord shards.

Deterministic for a seed: the held-out split is chosen by a seeded hash of each example id, and
records keep the input order (the loader shuffles).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import time
from pathlib import Path

from tqdm.auto import tqdm

from nuner_jax.data.align import TokenisedWindow, tokenise_example
from nuner_jax.data.example import Example, Rejects
from nuner_jax.data.formats import read_examples
from nuner_jax.data.shards import INFO_NAME, VOCAB_NAME, write_splits
from nuner_jax.data.vocab import ConceptVocab, NormalisationConfig


@dataclasses.dataclass(frozen=True)
class PrepareConfig:
    tokenizer: str = "minilm"  # HF directory / hub id, or 'minilm' for the offline MiniLM
    max_length: int = 128  # tokens per window, special tokens included
    stride: int = 96  # tokens between window starts for long texts
    concept_max_length: int = 16  # tokens per concept name, special tokens included
    min_concept_count: int = 1
    lowercase_concepts: bool = True
    eval_fraction: float = 0.02
    records_per_shard: int = 10_000
    seed: int = 0


def _held_out(example_id: str, seed: int, fraction: float) -> bool:
    digest = hashlib.sha256(f"{seed}:{example_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def load_tokenizer(name: str):
    from transformers import AutoTokenizer

    from nuner_jax.models.offline import resolve_model_name

    tok = AutoTokenizer.from_pretrained(resolve_model_name(name))
    if not tok.is_fast:
        raise ValueError(f"{name}: prepare needs a fast tokenizer (offsets)")
    return tok


def prepare(inputs: list[str | Path], out_dir: str | Path, cfg: PrepareConfig = PrepareConfig(),
            formats: list[str | None] | None = None) -> dict:
    """Read, build the vocabulary, tokenise, write shards; returns the summary also saved in nuner_info.json."""
    t0 = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rejects = Rejects()
    examples: list[Example] = []
    for path, fmt in zip(inputs, formats or [None] * len(inputs)):
        examples.extend(read_examples(path, format=fmt, rejects=rejects))
    if not examples:
        raise ValueError(f"no usable examples in {[str(p) for p in inputs]} ({len(rejects)} rejects)")
    ids = [e.id for e in examples]
    if len(set(ids)) != len(ids):  # ids from several files may clash: make them unique and stable
        examples = [dataclasses.replace(e, id=f"{i}:{e.id}") for i, e in enumerate(examples)]

    norm = NormalisationConfig(lowercase=cfg.lowercase_concepts)
    vocab, rare = ConceptVocab.build((s.concept for e in examples for s in e.spans), cfg.min_concept_count, norm)
    for e in examples:
        for s in e.spans:
            if vocab.id_of(s.concept) is None:
                rejects.add("vocabulary", e.id, f"span label dropped: concept seen fewer than "
                            f"{cfg.min_concept_count} times", [e.span_text(s), s.concept])

    tok = load_tokenizer(cfg.tokenizer)
    backend = copy.deepcopy(tok.backend_tokenizer)  # tokenizer.json may enable truncation/padding
    backend.no_truncation()
    backend.no_padding()
    cls_id, sep_id = tok.cls_token_id, tok.sep_token_id
    concept_enc = tok(vocab.names, truncation=True, max_length=cfg.concept_max_length)["input_ids"]
    vocab.token_ids = [list(x) for x in concept_enc]

    splits: dict[str, list[TokenisedWindow]] = {"train": [], "eval": []}
    batch = 256
    with tqdm(total=len(examples), desc="prepare", unit="sent", smoothing=0.1) as bar:
        for i in range(0, len(examples), batch):
            chunk = examples[i : i + batch]
            encodings = backend.encode_batch([e.text for e in chunk], add_special_tokens=False)
            for ex, enc in zip(chunk, encodings):
                concept_ids = [vocab.id_of(s.concept) for s in ex.spans]
                windows, problems = tokenise_example(
                    ex, enc, concept_ids, cls_id=cls_id, sep_id=sep_id, max_length=cfg.max_length, stride=cfg.stride
                )
                for k, reason in problems:
                    s = ex.spans[k]
                    rejects.add("tokenise", ex.id, f"span dropped: {reason}", [ex.span_text(s), s.concept])
                split = "eval" if _held_out(ex.id, cfg.seed, cfg.eval_fraction) else "train"
                splits[split].extend(windows)
            bar.update(len(chunk))
    split_info = write_splits(out, {name: ws for name, ws in splits.items() if ws}, cfg.records_per_shard)
    vocab.save(out / VOCAB_NAME)
    rejects.write(out / "rejects.jsonl")
    seconds = time.perf_counter() - t0
    info = {
        "format_version": 1,
        "inputs": [str(p) for p in inputs],
        "config": dataclasses.asdict(cfg),
        "tokenizer": {"name": cfg.tokenizer, "class": type(tok).__name__, "cls_id": cls_id, "sep_id": sep_id,
                      "pad_id": tok.pad_token_id, "vocab_size": len(tok)},
        "examples": len(examples),
        "concepts": len(vocab),
        "rare_concepts_dropped": len(rare),
        "splits": split_info,
        "features": {"id": "text", "window": "int32", "input_ids": "int32[length]",
                     "spans": "int32[n, 3] (first, last inclusive, concept id)"},
        "tfds_dir": str(out / "tfds"),
        "rejects": {"total": len(rejects), "by_reason": rejects.count_by_reason()},
        "seconds": round(seconds, 2),
        "sentences_per_second": round(len(examples) / seconds, 1),
    }
    (out / INFO_NAME).write_text(json.dumps(info, indent=2) + "\n")
    return info
