"""Benchmark of the data path: `prepare` (sentences/s) and the loader (batches/s, padded vs packed,
share of real tokens) for the MiniLM (WordPiece) and a RoBERTa-style byte-level BPE tokenizer.

The RoBERTa tokenizer is trained here on the corpus itself (roberta-base's files need the hub);
its vocabulary is smaller than roberta-base's 50,265, which barely changes tokenisation speed.

Run: python benchmarks/data_pipeline.py [--data ../shared/data] [--out benchmarks/results]
Writes data_pipeline.json and data_pipeline.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from nuner_jax.data.loader import LoaderConfig, PretrainBatches
from nuner_jax.data.prepare import PrepareConfig, prepare


def build_roberta_style_tokenizer(texts: list[str], out: Path) -> Path:
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=30000, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    out.mkdir(parents=True, exist_ok=True)
    bpe.save_model(str(out))
    RobertaTokenizerFast(vocab=str(out / "vocab.json"), merges=str(out / "merges.txt")).save_pretrained(str(out))
    return out


def bench_loader(shards: Path, pack: bool, open_rows: int = 8, steps: int = 50) -> dict:
    loader = PretrainBatches(shards, "train", LoaderConfig(batch_size=32, pack=pack, pack_open_rows=open_rows))
    loader.batch(0)
    t0 = time.perf_counter()
    real = []
    for s in range(steps):
        b = loader.batch(s)
        real.append((b["segment_ids"] > 0).mean())
    seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    it = loader.iterate(0, steps)
    for _ in range(steps):
        next(it)
    threaded = time.perf_counter() - t1
    return {"batches_per_s": steps / seconds, "batches_per_s_grain_threads": steps / threaded,
            "real_token_share": float(np.mean(real)), "sentences_per_batch": float(np.mean(
                [sum(len(r) for r in loader.rows_of(s)) for s in range(steps)]))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    args = ap.parse_args()
    data = Path(args.data)
    inputs = [data / "llm_annotated" / f for f in ("pile.jsonl", "btc.jsonl", "conll2003.jsonl")]
    inputs += [data / "llm_annotated_pilot" / "annotations.jsonl", data / "pilener_subset_slimer/bio_391xALL/dev.txt"]
    results = {"machine": platform.processor() or platform.machine(), "inputs": [str(p) for p in inputs]}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        texts = [json.loads(line)["input"] for line in inputs[0].open()]
        tokenizers = {"minilm (WordPiece)": "minilm",
                      "roberta-style (byte-level BPE)": str(build_roberta_style_tokenizer(texts, tmp / "bpe"))}
        for name, tok in tokenizers.items():
            shards = tmp / name.split()[0]
            info = prepare(inputs, shards, PrepareConfig(tokenizer=tok))
            results[name] = {
                "prepare_sentences_per_s": info["sentences_per_second"],
                "prepare_seconds": info["seconds"],
                "records": info["splits"]["train"]["records"],
                "padded": bench_loader(shards, pack=False),
                "packed": bench_loader(shards, pack=True),
                "packed_greedy": bench_loader(shards, pack=True, open_rows=1),
            }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "data_pipeline.json").write_text(json.dumps(results, indent=2) + "\n")
    kinds = ("padded", "packed_greedy", "packed")
    lines = [("| tokenizer | prepare sent/s | batches/s padded / greedy packed / best-fit packed | "
              "real tokens | sentences/batch |"), "|---|---|---|---|---|"]
    for name in tokenizers:
        r = results[name]
        lines.append(f"| {name} | {r['prepare_sentences_per_s']:.0f} | "
                     + " / ".join(f"{r[k]['batches_per_s']:.1f}" for k in kinds) + " | "
                     + " / ".join(f"{r[k]['real_token_share']:.0%}" for k in kinds) + " | "
                     + " / ".join(f"{r[k]['sentences_per_batch']:.0f}" for k in kinds) + " |")
    table = "\n".join(lines) + "\n"
    (out / "data_pipeline.md").write_text("Batches of 32 rows x 128 tokens.\n\n" + table)
    print(table)


if __name__ == "__main__":
    main()
