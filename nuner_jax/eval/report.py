"""Few-shot results as a markdown table and a PNG plot of F1 against k."""

from __future__ import annotations

from pathlib import Path

from nuner_jax.eval.fewshot import aggregate

METRIC_LABELS = {
    "macro_token_f1": "macro token-level F1 (paper's metric)",
    "entity_f1_strict": "entity micro-F1, seqeval strict IOB2",
    "entity_f1_default": "entity micro-F1, seqeval default (conlleval-like)",
}


def markdown_table(rows: list[dict], metric: str = "macro_token_f1") -> str:
    agg = aggregate(rows, metric)
    models = list(agg)
    datasets = [d for d in next(iter(agg.values())) if d != "mean"] + ["mean"]
    ks = sorted({r["k"] for r in rows})
    lines = [f"**{METRIC_LABELS.get(metric, metric)}**, mean ± std over seeds", "",
             "| model | k | " + " | ".join(datasets) + " |", "|---|---|" + "---|" * len(datasets)]
    for m in models:
        for k in ks:
            cells = [f"{agg[m][d][k][0]:.1f} ± {agg[m][d][k][1]:.1f}" if k in agg[m].get(d, {}) else "-"
                     for d in datasets]
            lines.append(f"| {m} | {k} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: str | Path, metric: str = "macro_token_f1") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    agg = aggregate(rows, metric)
    fig, ax = plt.subplots(figsize=(6, 4))
    for model, per_ds in agg.items():
        ks = sorted(per_ds["mean"])
        means = [per_ds["mean"][k][0] for k in ks]
        stds = [per_ds["mean"][k][1] for k in ks]
        ax.errorbar(ks, means, yerr=stds, marker="o", capsize=3, label=model)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k (sentences per entity type)")
    ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    ax.set_title("Few-shot NER, frozen encoder + linear head (mean over datasets)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def fallback_notes(rows: list[dict]) -> str:
    """The protocol's documented fallbacks, per dataset: types with fewer than k train sentences
    (they contribute all they have) and test types absent from the train pool."""
    lines = []
    for d in sorted({r["dataset"] for r in rows}):
        mine = [r for r in rows if r["dataset"] == d]
        unseen = sorted({t for r in mine for t in r.get("unseen_test_types", [])})
        short = {}
        for r in mine:
            for t, n in r.get("short_types", {}).items():
                short.setdefault(r["k"], {})[t] = n
        parts = [f"k={k}: " + ", ".join(f"{t} ({n} available)" for t, n in sorted(v.items()))
                 for k, v in sorted(short.items())]
        if unseen:
            parts.append("test types absent from the train pool: " + ", ".join(unseen))
        if parts:
            lines.append(f"- {d}: " + "; ".join(parts))
    if not lines:
        return "**Fallbacks**: none (every type had k train sentences, every test type was in the train pool).\n"
    return "**Fallbacks** (types short of k train sentences contribute all they have)\n\n" + "\n".join(lines) + "\n"
