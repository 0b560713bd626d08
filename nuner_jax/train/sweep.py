"""Ablation sweeps: run a list of config overrides one after another (or print the commands for a
cluster), then collect every run's final metrics into one table."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from nuner_jax.train.loop import train


def sweep_commands(base: str, runs: dict[str, list[str]], root: Path, extra: list[str]) -> dict[str, list[str]]:
    return {name: [f"--config={base}", *extra, *overrides, f"--workdir={root / name}"]
            for name, overrides in runs.items()}


def run_sweep(base: str, runs: dict[str, list[str]], root: str | Path, extra: list[str],
              dry_run: bool = False) -> list[str]:
    """Run (or print) every configuration; finished runs are skipped, interrupted ones resume."""
    from nuner_jax.commands import parse_config_flags

    root = Path(root)
    lines = []
    for name, args in sweep_commands(base, runs, root, extra).items():
        line = "nuner-jax pretrain " + " ".join(shlex.quote(a) for a in args)
        lines.append(line)
        if dry_run:
            print(line)
            continue
        if (root / name / "export").exists():
            print(f"{name}: done already, skipped")
            continue
        print(f"== {name}: {line}")
        train(parse_config_flags(args, base.split(":")[0]))
    return lines


def collect(root: str | Path) -> list[dict]:
    """The last train and eval metrics of every run directory under root."""
    rows = []
    for run in sorted(p for p in Path(root).iterdir() if (p / "metrics.jsonl").exists()):
        last: dict[str, dict] = {}
        for line in (run / "metrics.jsonl").open():
            r = json.loads(line)
            last[r["split"]] = r
        rows.append({"run": run.name, **{f"{split}_{k}": v for split, r in last.items()
                                         for k, v in r.items() if k in ("step", "loss", "f1")}})
    return rows


def markdown(rows: list[dict]) -> str:
    cols = ["run", "train_step", "train_loss", "train_f1", "eval_loss", "eval_f1"]
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        out.append("| " + " | ".join(f"{r[c]:.4f}" if isinstance(r.get(c), float) else str(r.get(c, "-"))
                                     for c in cols) + " |")
    return "\n".join(out) + "\n"
