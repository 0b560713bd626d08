"""Inference speed on the same texts: the encoder (JAX packed / JAX padded / PyTorch padded /
PyTorch dynamic padding) and end-to-end tagging (our zero-shot tagger vs transformers'
`pipeline("ner")` on the exported model with a token-classification head).

Texts: CrossNER politics + CoNLL-2003 test sentences (words joined by spaces), the first --texts.
The model: a NuNER export (`--model DIR`, with its concept_encoder/), or by default the offline
MiniLM exported as an untrained NuNER model (weights do not change speed).

Run:  python benchmarks/inference_vs_pytorch.py [--model DIR] [--texts 600]
Writes benchmarks/results/inference_vs_pytorch.json and .md.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1] / "shared" / "data"
ROWS, LENGTH = 32, 128


def load_texts(data: Path, n: int) -> list[str]:
    from nuner_jax.eval.benchmarks import load_benchmark

    texts = []
    for name in ("crossner_politics", "conll2003"):
        _, test = load_benchmark(name, data)
        texts += [" ".join(s.words) for s in test]
    return texts[:n]


def windows(tokenizer, texts: list[str]) -> list[list[int]]:
    """Token ids with specials, long texts cut into LENGTH-token pieces (as the tagger does)."""
    body = LENGTH - 2
    out = []
    for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]:
        for s in range(0, max(len(ids), 1), body):
            out.append([tokenizer.cls_token_id, *ids[s : s + body], tokenizer.sep_token_id])
    return out


def jax_encoder(model_dir: Path, pieces: list[list[int]], pad: int, pack: bool) -> dict:
    import jax
    import jax.numpy as jnp
    from flax import nnx

    from nuner_jax.convert.hf import load_encoder
    from nuner_jax.data.loader import fill_rows, pack_rows

    encoder, _ = load_encoder(model_dir, hidden_dropout=0.0, attention_dropout=0.0)
    encoder.eval()
    graphdef, state = nnx.split(encoder)

    @jax.jit
    def forward(state, ids, segments):
        return nnx.merge(graphdef, state)(ids, segment_ids=segments).last_hidden_state

    rows = pack_rows(np.arange(len(pieces)), np.array([len(p) for p in pieces]), LENGTH, pack)
    batches = [fill_rows(pieces, rows[b : b + ROWS], ROWS, LENGTH, pad)[:2] for b in range(0, len(rows), ROWS)]
    t0 = time.perf_counter()
    forward(state, jnp.asarray(batches[0][0]), jnp.asarray(batches[0][1])).block_until_ready()
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for ids, seg in batches:
        np.asarray(forward(state, jnp.asarray(ids), jnp.asarray(seg)))
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "compile_s": compile_s, "rows": len(rows), "row_shape": [ROWS, LENGTH]}


def torch_encoder(model_dir: Path, pieces: list[list[int]], pad: int, dynamic: bool) -> dict:
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir), add_pooling_layer=False).eval()
    t0 = time.perf_counter()
    with torch.inference_mode():
        for b in range(0, len(pieces), ROWS):
            chunk = pieces[b : b + ROWS]
            width = max(len(p) for p in chunk) if dynamic else LENGTH
            ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for r, p in enumerate(chunk):
                ids[r, : len(p)] = torch.tensor(p)
                mask[r, : len(p)] = 1
            model(input_ids=ids, attention_mask=mask).last_hidden_state.numpy()
    return {"seconds": time.perf_counter() - t0}


def tagging(model_dir: Path, texts: list[str], labels: list[str], tmp: Path) -> dict:
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline

    from nuner_jax.eval.zeroshot import ZeroShotTagger

    tagger = ZeroShotTagger(model_dir, threshold=0.5, batch_size=ROWS)
    tagger(texts[:8], labels)  # compile
    t0 = time.perf_counter()
    ours = tagger(texts, labels)
    ours_s = time.perf_counter() - t0

    tags = ["O"] + [f"{p}-{label}" for label in labels for p in ("B", "I")]
    head_dir = tmp / "token-classifier"
    torch.manual_seed(0)
    clf = AutoModelForTokenClassification.from_pretrained(
        str(model_dir), num_labels=len(tags), id2label=dict(enumerate(tags)),
        label2id={t: i for i, t in enumerate(tags)})
    clf.save_pretrained(str(head_dir))
    AutoTokenizer.from_pretrained(str(model_dir)).save_pretrained(str(head_dir))
    ner = pipeline("ner", model=str(head_dir), aggregation_strategy="simple", device=-1)
    ner(texts[:8], batch_size=ROWS)
    t0 = time.perf_counter()
    theirs = ner(texts, batch_size=ROWS)
    theirs_s = time.perf_counter() - t0
    return {"ours_seconds": ours_s, "pipeline_seconds": theirs_s, "ours_spans": sum(len(s) for s in ours),
            "pipeline_spans": sum(len(s) for s in theirs)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="", help="a NuNER export (text encoder + concept_encoder/)")
    ap.add_argument("--texts", type=int, default=600)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--out", default=str(HERE / "results"))
    args = ap.parse_args()

    from transformers import AutoTokenizer

    from nuner_jax.models.build import build_dual_encoder, export_dual_encoder
    from nuner_jax.models.offline import minilm_dir

    texts = load_texts(Path(args.data), args.texts)
    labels = ["person", "organisation", "location", "political party", "event", "country"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model_dir = Path(args.model) if args.model else tmp / "nuner"
        if not args.model:
            export_dual_encoder(build_dual_encoder("minilm", dropout=0.0), model_dir, tokenizer_from=minilm_dir())
        tok = AutoTokenizer.from_pretrained(str(model_dir))
        pieces = windows(tok, texts)
        real = sum(len(p) for p in pieces)
        pad = tok.pad_token_id
        enc = {
            "jax-packed": jax_encoder(model_dir, pieces, pad, pack=True),
            "jax-padded": jax_encoder(model_dir, pieces, pad, pack=False),
            "torch-padded": torch_encoder(model_dir, pieces, pad, dynamic=False),
            "torch-dynamic": torch_encoder(model_dir, pieces, pad, dynamic=True),
        }
        for r in enc.values():
            r["tokens_per_s"] = real / r["seconds"]
        tag = tagging(model_dir, texts, labels, tmp)
    tag["ours_tokens_per_s"] = real / tag["ours_seconds"]
    tag["pipeline_tokens_per_s"] = real / tag["pipeline_seconds"]
    results = {"machine": platform.processor() or platform.machine(), "texts": len(texts), "real_tokens": real,
               "model": args.model or "minilm (untrained NuNER export)", "encoder": enc, "tagging": tag}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "inference_vs_pytorch.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [f"{len(texts)} texts, {real} real tokens (specials included). Batches of {ROWS}.", "",
             "| encoder run | seconds | real tokens/s | vs PyTorch dynamic |", "|---|---|---|---|"]
    base = enc["torch-dynamic"]["tokens_per_s"]
    for name, r in enc.items():
        lines.append(f"| {name} | {r['seconds']:.1f} | {r['tokens_per_s']:.0f} | {r['tokens_per_s'] / base:.2f}x |")
    lines += ["", "| tagging, end to end | seconds | real tokens/s |", "|---|---|---|",
              f"| ours: zero-shot tagger ({len(labels)} labels) | {tag['ours_seconds']:.1f} | "
              f"{tag['ours_tokens_per_s']:.0f} |",
              f"| transformers pipeline(\"ner\"), PyTorch | {tag['pipeline_seconds']:.1f} | "
              f"{tag['pipeline_tokens_per_s']:.0f} |",
              "", f"Ratio, ours / pipeline: {tag['ours_tokens_per_s'] / tag['pipeline_tokens_per_s']:.2f}x"]
    table = "\n".join(lines) + "\n"
    (out / "inference_vs_pytorch.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
