"""Subcommands beyond `convert`; each parses its arguments and calls one library function."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path

REPO_CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def parse_config_flags(argv: list[str], default_config: str):
    """`--config=FILE:variant`, `--config.a.b=value` overrides and `--workdir` (absl + ml_collections).

    Unknown fields and wrong types fail here, before any data or model is touched.
    """
    from absl import flags
    from ml_collections import config_flags

    values = flags.FlagValues()
    config_flags.DEFINE_config_file("config", default_config, "ml_collections config file[:variant]",
                                    flag_values=values, lock_config=True)
    flags.DEFINE_string("workdir", None, "work directory (checkpoints, metrics, export)", flag_values=values)
    argv_for_flags = ["nuner-jax", *argv]
    saved_argv = sys.argv
    sys.argv = argv_for_flags  # ml_collections discovers --config.* overrides by scanning sys.argv
    try:
        values(argv_for_flags)
    except (flags.Error, AttributeError, KeyError, TypeError, ValueError) as e:
        raise ValueError(f"bad configuration flag: {e}") from e
    finally:
        sys.argv = saved_argv
    config = values.config
    if values.workdir:
        with config.unlocked():
            config.workdir = values.workdir
    return config


def _prepare(args: argparse.Namespace) -> None:
    from nuner_jax.data.prepare import PrepareConfig, prepare

    cfg = PrepareConfig(tokenizer=args.tokenizer, max_length=args.max_length, stride=args.stride,
                        min_concept_count=args.min_concept_count, eval_fraction=args.eval_fraction,
                        records_per_shard=args.records_per_shard, seed=args.seed,
                        lowercase_concepts=not args.keep_case)
    info = prepare(args.inputs, args.out, cfg, formats=[args.format] * len(args.inputs) if args.format else None)
    print(json.dumps({k: info[k] for k in ("examples", "concepts", "splits", "rejects", "sentences_per_second")},
                     indent=2))
    print(f"shards in {args.out}; rejects with reasons in {Path(args.out) / 'rejects.jsonl'}")


def _add_prepare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prepare", help="annotation files -> concept vocabulary + ArrayRecord shards")
    p.add_argument("inputs", nargs="+", help="NuNER CSV/JSONL, GLiNER JSON, CoNLL, HF tokens JSONL files")
    p.add_argument("--out", required=True)
    p.add_argument("--format", help="force a format (default: detect per file)")
    p.add_argument("--tokenizer", default="minilm", help="HF directory or hub id, or 'minilm' (offline)")
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--stride", type=int, default=96)
    p.add_argument("--min-concept-count", type=int, default=1)
    p.add_argument("--eval-fraction", type=float, default=0.02)
    p.add_argument("--records-per-shard", type=int, default=10_000)
    p.add_argument("--keep-case", action="store_true", help="do not lower-case concept names")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_prepare)


def _pretrain(args: argparse.Namespace) -> None:
    from nuner_jax.train.loop import train

    config = parse_config_flags(args.rest, str(REPO_CONFIGS / "pretrain.py"))
    summary = train(config)
    print(json.dumps(summary, indent=2, default=str))
    if summary.get("export"):
        print(f"NuNER encoder (Hugging Face directory): {summary['export']}")


def _add_pretrain(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pretrain", help="contrastive NuNER pre-training (absl/ml_collections flags)",
                       description="Flags: --config=configs/pretrain.py:VARIANT --config.FIELD=VALUE --workdir=DIR")
    p.set_defaults(func=_pretrain, accepts_config_flags=True)


REGISTRY: list[Callable[[argparse._SubParsersAction], None]] = [_add_prepare, _add_pretrain]


def _fewshot(args: argparse.Namespace) -> None:
    from nuner_jax.eval.benchmarks import BENCHMARKS
    from nuner_jax.eval.fewshot import FewShotConfig, evaluate_models
    from nuner_jax.eval.finetune import FineTuneConfig
    from nuner_jax.eval.report import METRIC_LABELS, fallback_notes, markdown_table, plot

    datasets = sorted(BENCHMARKS) if args.datasets == ["all"] else args.datasets
    names = args.names or args.models
    if len(names) != len(args.models):
        raise ValueError("--names must give one name per --models entry")
    cfg = FewShotConfig(ks=tuple(args.ks), seeds=tuple(args.seeds), test_cap=args.test_cap,
                        layers=tuple(args.layers), c=args.c, head=args.head, finetune=args.finetune,
                        finetune_cfg=FineTuneConfig(epochs=args.ft_epochs, learning_rate=args.ft_lr))
    rows = evaluate_models(args.models, datasets, cfg, args.data_root, names)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "fewshot.json").write_text(json.dumps({"config": dataclasses.asdict(cfg), "models": dict(zip(names, args.models)),
                                                  "rows": rows}, indent=1) + "\n")
    tables = "\n".join(markdown_table(rows, m) for m in METRIC_LABELS) + "\n" + fallback_notes(rows)
    (out / "fewshot.md").write_text(tables)
    plot(rows, out / "fewshot.png")
    print(tables)
    print(f"results in {out}/fewshot.json, fewshot.md, fewshot.png")


def _add_fewshot(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fewshot", help="few-shot NER benchmark of encoders (frozen features + linear/MLP head, "
                       "or full fine-tuning)")
    p.add_argument("--models", nargs="+", required=True, help="HF directories / hub ids / 'minilm'")
    p.add_argument("--names", nargs="+", help="display names, one per model")
    p.add_argument("--datasets", nargs="+", default=["all"])
    p.add_argument("--ks", nargs="+", type=int, default=[1, 4, 16])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--test-cap", type=int, default=1000, help="test sentences per dataset (0: all)")
    p.add_argument("--layers", nargs="+", type=int, default=[-1], help="hidden states concatenated, e.g. -1 -7")
    p.add_argument("--c", type=float, default=1.0, help="inverse L2 strength of the logistic regression")
    p.add_argument("--head", choices=["linear", "mlp"], default="linear", help="head on frozen features")
    p.add_argument("--finetune", action="store_true", help="train encoder + linear head (not frozen)")
    p.add_argument("--ft-epochs", type=int, default=20, help="fine-tuning epochs over the k-shot sample")
    p.add_argument("--ft-lr", type=float, default=5e-5, help="fine-tuning learning rate of the encoder")
    p.add_argument("--data-root", help="folder holding the benchmarks (default ../shared/data)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=_fewshot)


REGISTRY.append(_add_fewshot)


def _fewshot_report(args: argparse.Namespace) -> None:
    """Merge fewshot.json files (runs made at different times, e.g. a new model or a new k)."""
    from nuner_jax.eval.report import METRIC_LABELS, fallback_notes, markdown_table, plot

    rows, models, seen = [], {}, set()
    for path in args.inputs:
        data = json.loads(Path(path).read_text())
        models.update(data.get("models", {}))
        for r in data["rows"]:
            key = (r["model"], r["dataset"], r["k"], r["seed"], r.get("method", "linear"))
            if key in seen:
                raise ValueError(f"{path}: duplicate result {key}; rename the model in one of the runs (--names)")
            seen.add(key)
            rows.append(r)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "fewshot.json").write_text(json.dumps({"inputs": args.inputs, "models": models, "rows": rows},
                                                 indent=1) + "\n")
    tables = "\n".join(markdown_table(rows, m) for m in METRIC_LABELS) + "\n" + fallback_notes(rows)
    (out / "fewshot.md").write_text(tables)
    plot(rows, out / "fewshot.png")
    print(tables)


def _add_fewshot_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fewshot-report", help="merge fewshot.json files into one table and plot")
    p.add_argument("inputs", nargs="+", help="fewshot.json files")
    p.add_argument("--out", required=True)
    p.set_defaults(func=_fewshot_report)


REGISTRY.append(_add_fewshot_report)


DEMO_SAMPLE = Path(__file__).resolve().parent / "assets" / "demo" / "btc_sample.jsonl"


def run_demo(out: str | Path, steps: int | None = None) -> dict:
    """The README's main job, offline: prepare the shipped sample, pre-train MiniLM, export."""
    from nuner_jax.data.prepare import PrepareConfig, prepare
    from nuner_jax.train.loop import train

    out = Path(out)
    info = prepare([DEMO_SAMPLE], out / "shards", PrepareConfig(eval_fraction=0.05))
    print(f"prepared {info['examples']} sentences, {info['concepts']} concepts -> {out / 'shards'}")
    overrides = [f"--config.data.dir={out / 'shards'}", f"--workdir={out / 'run'}"]
    if steps:
        overrides.append(f"--config.train.steps={steps}")
    config = parse_config_flags([f"--config={REPO_CONFIGS / 'pretrain.py'}:demo", *overrides],
                                str(REPO_CONFIGS / "pretrain.py"))
    return train(config)


def _demo(args: argparse.Namespace) -> None:
    import time

    t0 = time.perf_counter()
    summary = run_demo(args.out, args.steps)
    minutes = (time.perf_counter() - t0) / 60
    print(json.dumps({"steps": summary["steps"], "train": summary["train"], "eval": summary["eval"]}, indent=2))
    print(f"demo finished in {minutes:.1f} min; NuNER encoder (Hugging Face directory): {summary.get('export')}")


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="offline demo: prepare the shipped BTC sample, pre-train MiniLM, export")
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--steps", type=int, help="override the demo's step count")
    p.set_defaults(func=_demo)


REGISTRY.append(_add_demo)


def _annotate(args: argparse.Namespace) -> None:
    from nuner_jax.data.annotate.client import ClientConfig
    from nuner_jax.data.annotate.run import annotate

    cfg = ClientConfig(base_url=args.base_url, model=args.model, api_key_env=args.api_key_env,
                       timeout_s=args.timeout, max_retries=args.max_retries)
    summary = annotate(args.input, args.out, cfg, concurrency=args.concurrency, cache_path=args.cache)
    print(json.dumps(dataclasses.asdict(summary), indent=2))
    print(f"annotations in {args.out}; rejects in {Path(args.out).with_suffix('.rejects.jsonl')}")


def _add_annotate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("annotate", help="raw sentences -> NuNER JSONL via an OpenAI-compatible LLM endpoint")
    p.add_argument("input", help="text file (one sentence a line) or JSONL with 'text'/'input' and 'id'")
    p.add_argument("--out", required=True, help="NuNER JSONL output")
    p.add_argument("--base-url", default="https://api.openai.com/v1")
    p.add_argument("--model", default="gpt-3.5-turbo")
    p.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the key")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    p.add_argument("--max-retries", type=int, default=6)
    p.add_argument("--cache", help="SQLite response cache (default: next to --out)")
    p.set_defaults(func=_annotate)


REGISTRY.append(_add_annotate)


def _zeroshot(args: argparse.Namespace) -> None:
    from nuner_jax.eval.zeroshot import ZeroShotTagger

    texts = list(args.text or [])
    if args.input:
        texts += [line.rstrip("\n") for line in Path(args.input).open(encoding="utf-8") if line.strip()]
    if not texts:
        raise ValueError("nothing to tag: give --text or --input")
    tagger = ZeroShotTagger(args.model, threshold=args.threshold)
    for text, spans in zip(texts, tagger(texts, args.labels)):
        print(json.dumps({"text": text, "entities": [dataclasses.asdict(s) for s in spans]}, ensure_ascii=False))


def _add_zeroshot(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("zeroshot", help="tag text with any label names using a pre-trained dual encoder export")
    p.add_argument("--model", required=True, help="a `pretrain` export directory (with concept_encoder/)")
    p.add_argument("--labels", nargs="+", required=True)
    p.add_argument("--text", nargs="*")
    p.add_argument("--input", help="a text file, one text per line")
    p.add_argument("--threshold", type=float, default=0.5)
    p.set_defaults(func=_zeroshot)


REGISTRY.append(_add_zeroshot)


def _zeroshot_eval(args: argparse.Namespace) -> None:
    from nuner_jax.eval.benchmarks import BENCHMARKS
    from nuner_jax.eval.zeroshot_eval import evaluate, markdown

    datasets = sorted(d for d in BENCHMARKS if d.startswith("crossner")) if args.datasets == ["crossner"] \
        else sorted(BENCHMARKS) if args.datasets == ["all"] else args.datasets
    overrides = json.loads(Path(args.label_names).read_text()) if args.label_names else None
    rows = evaluate(args.model, datasets, tuple(args.thresholds), args.test_cap, args.data_root,
                    label_overrides=overrides)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "zeroshot.json").write_text(json.dumps({"model": args.model, "rows": rows}, indent=1) + "\n")
    text = "".join(f"**{title}**, by threshold\n\n{markdown(rows, metric)}\n" for metric, title in (
        ("entity_f1_strict", "entity micro-F1, seqeval strict IOB2"),
        ("entity_f1_default", "entity micro-F1, seqeval default"),
        ("macro_token_f1", "macro token-level F1")))
    (out / "zeroshot.md").write_text(text)
    print(text)
    print(f"results in {out}/zeroshot.json, zeroshot.md")


def _add_zeroshot_eval(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("zeroshot-eval", help="zero-shot NER of a dual encoder export scored on benchmarks")
    p.add_argument("--model", required=True, help="a `pretrain` export directory (with concept_encoder/)")
    p.add_argument("--datasets", nargs="+", default=["crossner"], help="names, 'crossner' (5 domains) or 'all'")
    p.add_argument("--thresholds", nargs="+", type=float, default=[0.3, 0.5, 0.7])
    p.add_argument("--test-cap", type=int, default=1000, help="test sentences per dataset (0: all)")
    p.add_argument("--label-names", help="JSON file {entity type: label name} overriding the built-in names")
    p.add_argument("--data-root", help="folder holding the benchmarks (default ../shared/data)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=_zeroshot_eval)


REGISTRY.append(_add_zeroshot_eval)


def _sweep(args: argparse.Namespace) -> None:
    import importlib.util

    from nuner_jax.train.sweep import run_sweep

    spec = importlib.util.spec_from_file_location("ablations", args.sweeps)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if args.name not in module.SWEEPS:
        raise ValueError(f"unknown sweep {args.name!r}; {args.sweeps} has {sorted(module.SWEEPS)}")
    run_sweep(args.base, module.SWEEPS[args.name], Path(args.root) / args.name, args.rest, args.dry_run)


def _sweep_table(args: argparse.Namespace) -> None:
    from nuner_jax.train.sweep import collect, markdown

    table = markdown(collect(args.root))
    print(table)
    if args.out:
        Path(args.out).write_text(table)


def _add_sweep(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="run an ablation sweep of configs/ablations.py (or print its commands)")
    p.add_argument("name", help="sweep name, e.g. frozen_layers")
    p.add_argument("--base", default=str(REPO_CONFIGS / "pretrain.py") + ":minilm")
    p.add_argument("--sweeps", default=str(REPO_CONFIGS / "ablations.py"))
    p.add_argument("--root", default="runs/sweeps")
    p.add_argument("--dry-run", action="store_true", help="print one pretrain command per run")
    p.set_defaults(func=_sweep, accepts_config_flags=True)
    t = sub.add_parser("sweep-table", help="collect the final metrics of a sweep's runs into a table")
    t.add_argument("root")
    t.add_argument("--out")
    t.set_defaults(func=_sweep_table)


REGISTRY.append(_add_sweep)


def _export(args: argparse.Namespace) -> None:
    from nuner_jax.train.export import export_checkpoint

    print(f"wrote {export_checkpoint(args.workdir, args.out, args.step)}")


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a pre-training checkpoint as a Hugging Face directory")
    p.add_argument("workdir")
    p.add_argument("--step", type=int, help="default: the latest checkpoint")
    p.add_argument("--out", help="default: WORKDIR/export-stepN")
    p.set_defaults(func=_export)


REGISTRY.append(_add_export)


def _tagger(args: argparse.Namespace) -> None:
    from nuner_jax.eval.benchmarks import load_benchmark, read_sentences
    from nuner_jax.eval.sampling import sample_k_shot
    from nuner_jax.eval.token_classifier import export_token_classifier, fit_tagger

    pool = read_sentences(args.train) if args.train else load_benchmark(args.dataset, args.data_root)[0]
    if args.k:
        idx, short = sample_k_shot(pool, args.k, args.seed)
        if short:
            print(f"note: types with fewer than k={args.k} sentences (all used): {short}")
        pool = [pool[i] for i in idx]
    tagger = fit_tagger(args.model, pool, c=args.c)
    print(f"fitted on {len(pool)} sentences, labels {tagger.classes}; "
          f"wrote {export_token_classifier(tagger, args.out)}")


def _add_tagger(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tagger", help="fit a few-shot NER head on a frozen encoder and export it for transformers")
    p.add_argument("--model", required=True, help="encoder: HF directory / hub id / 'minilm'")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", help="a benchmark name (its train split)")
    src.add_argument("--train", help="a CoNLL / GLiNER / HF-tokens training file")
    p.add_argument("--k", type=int, default=0, help="sample k sentences per type (0: use all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--c", type=float, default=1.0)
    p.add_argument("--data-root")
    p.add_argument("--out", required=True)
    p.set_defaults(func=_tagger)


REGISTRY.append(_add_tagger)
