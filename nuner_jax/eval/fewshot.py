"""The few-shot protocol: k sentences per entity type from the train split (seeded, the same for
every model), a head on frozen word features (logistic regression or a 2-layer MLP) or full
fine-tuning of encoder + linear head, evaluation on the (capped) test split, several seeds;
mean and standard deviation per (model, dataset, k)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

import numpy as np
from tqdm.auto import tqdm

from nuner_jax.eval.benchmarks import Sentence, load_benchmark
from nuner_jax.eval.features import WordFeaturizer
from nuner_jax.eval.finetune import FineTuneConfig, finetune
from nuner_jax.eval.linear_probe import fit_probe
from nuner_jax.eval.mlp_probe import fit_mlp
from nuner_jax.eval.metrics import entity_f1, io_to_iob2, macro_token_f1, spans_to_iob2
from nuner_jax.eval.sampling import sample_k_shot

TEST_SAMPLE_SEED = 12345  # fixed: every model and every run sees the same capped test set


@dataclasses.dataclass(frozen=True)
class FewShotConfig:
    ks: tuple[int, ...] = (1, 4, 16)
    seeds: tuple[int, ...] = (0, 1, 2)
    test_cap: int = 1000  # 0: the full test split
    layers: tuple[int, ...] = (-1,)
    c: float = 1.0
    max_iter: int = 200
    batch_size: int = 32
    head: str = "linear"  # "linear" (logistic regression) or "mlp" (2 layers), on frozen features
    finetune: bool = False  # True: encoder + linear head trained together (head is then ignored)
    finetune_cfg: FineTuneConfig = FineTuneConfig()

    def __post_init__(self) -> None:
        if self.head not in ("linear", "mlp"):
            raise ValueError(f"head must be 'linear' or 'mlp', got {self.head!r}")
        if not self.ks or min(self.ks) < 1:
            raise ValueError(f"ks must be positive integers, got {self.ks}")

    @property
    def method(self) -> str:
        return "finetune" if self.finetune else self.head


def word_labels(sentence: Sentence) -> list[str]:
    return [t if t == "O" else t[2:] for t in spans_to_iob2(len(sentence.words), sentence.spans)]


def cap_test(test: list[Sentence], cap: int) -> list[Sentence]:
    if not cap or len(test) <= cap:
        return test
    idx = np.sort(np.random.default_rng(TEST_SAMPLE_SEED).choice(len(test), cap, replace=False))
    return [test[i] for i in idx]


def run_dataset(featurizer: WordFeaturizer, model_name: str, dataset: str, train: list[Sentence],
                test: list[Sentence], cfg: FewShotConfig) -> list[dict]:
    test = cap_test(test, cfg.test_cap)
    if not test:
        raise ValueError(f"{dataset}: empty test split")
    samples = {(k, s): sample_k_shot(train, k, s) for k in cfg.ks for s in cfg.seeds}
    needed = sorted({i for idx, _ in samples.values() for i in idx})
    if cfg.finetune:
        train_feats, test_feats = {}, [np.zeros((0, featurizer.dim), np.float32)]
    else:
        train_feats = dict(zip(needed, featurizer([train[i].words for i in needed])))
        test_feats = featurizer([s.words for s in test])
    train_types = sorted({t for s in train for t in s.types})
    test_types = sorted({t for s in test for t in s.types})
    unseen = sorted(set(test_types) - set(train_types))
    classes = ["O", *train_types]
    class_id = {c: i for i, c in enumerate(classes)}
    gold_io = [word_labels(s) for s in test]
    gold_iob2 = [spans_to_iob2(len(s.words), s.spans) for s in test]
    x_test = np.concatenate(test_feats)
    rows = []
    for (k, seed), (idx, short) in samples.items():
        y_words = [[class_id[lab] for lab in word_labels(train[i])] for i in idx]
        if cfg.finetune:
            params, probe = finetune(featurizer, [train[i].words for i in idx], y_words, len(classes),
                                     cfg.finetune_cfg, seed=seed)
            flat = probe.predict(np.concatenate(featurizer([s.words for s in test], params=params)))
        else:
            x = np.concatenate([train_feats[i] for i in idx])
            y = np.concatenate([np.asarray(w, np.int64) for w in y_words])
            if cfg.head == "mlp":
                probe = fit_mlp(x, y, len(classes), seed=seed)
            else:
                probe = fit_probe(x, y, len(classes), c=cfg.c, max_iter=cfg.max_iter)
            flat = probe.predict(x_test)
        pred_io, pos = [], 0
        for s in test:
            pred_io.append([classes[c] for c in flat[pos : pos + len(s.words)]])
            pos += len(s.words)
        rows.append({
            "model": model_name, "dataset": dataset, "k": k, "seed": seed, "method": cfg.method,
            "macro_token_f1": 100 * macro_token_f1(gold_io, pred_io, test_types),
            **{m: 100 * v for m, v in entity_f1(gold_iob2, [io_to_iob2(p) for p in pred_io]).items()},
            "train_sentences": len(idx), "test_sentences": len(test),
            "short_types": short, "unseen_test_types": unseen,
        })
    return rows


def evaluate_models(models: Sequence[str], datasets: Sequence[str], cfg: FewShotConfig,
                    data_root: str | None = None, names: Sequence[str] | None = None) -> list[dict]:
    data = {d: load_benchmark(d, data_root) for d in datasets}
    rows = []
    for model, name in zip(models, names or models):
        t0 = time.perf_counter()
        featurizer = WordFeaturizer(model, layers=cfg.layers, batch_size=cfg.batch_size)
        for d in tqdm(datasets, desc=f"fewshot {name}", unit="dataset"):
            rows += run_dataset(featurizer, name, d, *data[d], cfg)
        print(f"{name}: {time.perf_counter() - t0:.0f}s")
    return rows


def aggregate(rows: list[dict], metric: str = "macro_token_f1") -> dict:
    """{model: {dataset: {k: (mean, std)}}} plus a 'mean' pseudo-dataset averaged over datasets."""
    out: dict = {}
    for r in rows:
        out.setdefault(r["model"], {}).setdefault(r["dataset"], {}).setdefault(r["k"], []).append(r[metric])
    for model, per_ds in out.items():
        for ds, per_k in per_ds.items():
            for k, vals in per_k.items():
                per_k[k] = (float(np.mean(vals)), float(np.std(vals)))
        ks = sorted({k for per_k in per_ds.values() for k in per_k})
        per_ds["mean"] = {}
        for k in ks:
            means = [per_ds[d][k][0] for d in per_ds if d != "mean" and k in per_ds[d]]
            # std of the dataset-mean over seeds
            seeds = {}
            for r in rows:
                if r["model"] == model and r["k"] == k:
                    seeds.setdefault(r["seed"], []).append(r[metric])
            per_seed = [np.mean(v) for v in seeds.values()]
            per_ds["mean"][k] = (float(np.mean(means)), float(np.std(per_seed)))
    return out
