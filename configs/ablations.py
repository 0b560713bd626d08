"""The paper's ablations as lists of config overrides, run by `nuner-jax sweep`.

Each sweep maps a run name to the `--config.*` overrides that differ from the base config.
"""

SWEEPS: dict[str, dict[str, list[str]]] = {
    # pre-training data size (records of the prepared corpus)
    "data_size": {f"records_{n}": [f"--config.data.max_records={n}"] for n in (1000, 5000, 20000)},
    # concept diversity: only the N most frequent concepts label tokens
    "concept_diversity": {f"concepts_{n}": [f"--config.data.concept_vocab_cap={n}"] for n in (100, 1000, 10000)},
    # frozen bottom layers of the text tower
    "frozen_layers": {f"frozen_{n}": [f"--config.freeze.text_layers={n}"] for n in (0, 3, 5)},
    # token features: last layer vs NuNER's "two emb" (a projection makes the widths match)
    "token_features": {
        "last": ["--config.model.token_layers=(-1,)"],
        "two_emb": ["--config.model.token_layers=(-1,-7)", "--config.model.projection_dim=384"],
    },
    # negatives sampled per batch
    "negatives": {f"neg_{n}": [f"--config.data.num_negatives={n}"] for n in (0, 64, 256)},
    # loss variants
    "loss": {
        "bce_w1": ["--config.loss.variant=bce", "--config.loss.pos_weight=1.0"],
        "bce_w5": ["--config.loss.variant=bce", "--config.loss.pos_weight=5.0"],
        "balanced": ["--config.loss.variant=balanced"],
        "focal": ["--config.loss.variant=focal"],
    },
}
