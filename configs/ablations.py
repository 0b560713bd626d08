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
    # negatives sampled per batch (below the 160 concept slots of the minilm recipe)
    "negatives": {f"neg_{n}": [f"--config.data.num_negatives={n}"] for n in (0, 32, 96)},
    # batch size and learning rate at a fixed ~1 CPU-hour budget: the README's runs r1, r2, r3 (the default)
    "batch_and_lr": {
        "r1_b32_lr1e-4": ["--config.data.batch_size=32", "--config.data.max_concepts=448",
                          "--config.data.num_negatives=64", "--config.optim.learning_rate=1e-4",
                          "--config.optim.warmup_steps=40", "--config.train.steps=520"],
        "r2_b32_lr3e-4": ["--config.data.batch_size=32", "--config.data.max_concepts=448",
                          "--config.data.num_negatives=64", "--config.optim.learning_rate=3e-4",
                          "--config.optim.warmup_steps=35", "--config.train.steps=350"],
        "r3_b8_lr1.5e-4": [],
    },
    # loss variants
    "loss": {
        "bce_w1": ["--config.loss.variant=bce", "--config.loss.pos_weight=1.0"],
        "bce_w5": ["--config.loss.variant=bce", "--config.loss.pos_weight=5.0"],
        "balanced": ["--config.loss.variant=balanced"],
        "focal": ["--config.loss.variant=focal"],
    },
}
