"""Subcommands beyond `convert`; each parses its arguments and calls one library function."""

from __future__ import annotations

import argparse
import json
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
    try:
        values(["nuner-jax", *argv])
    except (flags.Error, AttributeError, KeyError, TypeError, ValueError) as e:
        raise ValueError(f"bad configuration flag: {e}") from e
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
