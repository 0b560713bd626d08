"""NuNER contrastive pre-training configs.

Use: `nuner-jax pretrain --config=configs/pretrain.py:VARIANT --config.optim.learning_rate=1e-4 --workdir=DIR`
Variants:
  minilm        the offline all-MiniLM-L6-v2 with the recipe tuned on a 2-core CPU (default)
  roberta-base  the paper's setting: RoBERTa-base towers, bottom 6 text layers frozen, 10 epochs
  demo          the README's offline demo: the shipped BTC sample, a few hundred steps in minutes
  local         a tiny smoke run (tests, laptops)
Ablations are overrides of these fields (see configs/ablations.py).
"""

from ml_collections import ConfigDict


def get_config(arg: str | None = None) -> ConfigDict:
    variant = arg or "minilm"
    c = ConfigDict()
    c.variant = variant
    c.seed = 0
    c.workdir = ""  # the --workdir flag sets it

    c.data = ConfigDict(dict(
        dir="",  # output of `nuner-jax prepare`
        train_split="train",
        eval_split="eval",  # "" disables held-out evaluation
        batch_size=32,  # global rows per step
        max_length=128,
        pack=True,  # several sentences per row, attention kept within each
        pack_open_rows=8,  # best-fit packing over this many open rows (~98% full); 1: greedy (~80%)
        max_concepts=448,  # static concept slots per batch (batch positives + negatives)
        num_negatives=64,  # concepts absent from the batch, sampled by frequency
        negative_power=0.75,
        concept_max_length=16,
        concept_row_length=64,
        concept_rows=0,  # 0: derived from max_concepts
        max_records=0,  # > 0: a fixed random subset of the training records (data-size ablation)
        concept_vocab_cap=0,  # > 0: only the N most frequent concepts label tokens (concept-diversity ablation)
    ))
    c.model = ConfigDict(dict(
        text="minilm",  # HF directory, hub id, or 'minilm' (offline)
        concept="",  # "" = same checkpoint as the text tower (separate parameters)
        dtype="float32",  # compute dtype; bfloat16 pays off on TPU/GPU, not on CPU
        remat=False,
        dropout=0.0,  # -1 keeps the checkpoint's dropout rates
        token_layers=(-1,),  # (-1, -7): NuNER's "two emb" features
        concept_pooling="mean",
        projection_dim=0,
        learn_scale=True,
        init_scale=1.0,
        init_bias=0.0,
        normalize=False,
    ))
    c.freeze = ConfigDict(dict(
        text_layers=-1,  # bottom layers of the text tower frozen; -1 = half (the paper: 6 of 12)
        concept_layers=0,
        rules=(),  # extra regexes on parameter paths, e.g. ("^concept_encoder/embeddings/",)
    ))
    c.optim = ConfigDict(dict(
        learning_rate=5e-5, warmup_steps=100, decay="cosine", end_factor=0.1, weight_decay=0.01,
        b1=0.9, b2=0.999, clip_norm=1.0, accumulate_steps=1,
    ))
    c.loss = ConfigDict(dict(variant="bce", pos_weight=5.0, focal_gamma=2.0))
    c.train = ConfigDict(dict(
        epochs=1.0,
        steps=0,  # > 0 overrides epochs
        log_every=10,
        eval_every=200,
        eval_batches=8,
        checkpoint_every=200,
        keep_checkpoints=3,
        async_checkpoints=True,
        max_steps_per_run=0,  # > 0: stop (with a checkpoint) after this many steps of this invocation
        export=True,  # write the NuNER encoder as a Hugging Face directory at the end
    ))
    c.mesh = ConfigDict(dict(data=-1, fsdp=1, fsdp_min_size=2**14))
    c.distributed = ConfigDict(dict(
        coordinator="",  # host:port of process 0; "" lets JAX detect TPU pods, SLURM, Open MPI, Kubernetes
        num_processes=0,
        process_id=-1,
        auto=True,
        cpu_collectives="gloo",
        initialization_timeout=300,
        heartbeat_timeout=100,
    ))

    if variant == "minilm":
        # The recipe tuned on this CPU (README, run r3): small batches, many updates, ~52 min on 2 cores.
        c.data.batch_size = 8  # packed rows: ~20 sentences
        c.data.max_concepts = 160
        c.data.num_negatives = 32
        c.optim.learning_rate = 1.5e-4
        c.train.steps = 1500  # ~1.2 epochs of the 25k windows in ../shared/data
        c.train.eval_every = 500
        c.train.checkpoint_every = 250
    elif variant == "roberta-base":
        c.model.text = "FacebookAI/roberta-base"
        c.freeze.text_layers = 6
        c.train.epochs = 10.0
        c.train.eval_every = 2000
        c.train.checkpoint_every = 2000
        c.optim.warmup_steps = 1000
    elif variant == "demo":
        c.data.batch_size = 4
        c.data.max_concepts = 96
        c.data.num_negatives = 24
        c.train.steps = 250
        c.train.log_every = 10
        c.train.eval_every = 125
        c.train.eval_batches = 2
        c.train.checkpoint_every = 125
        c.optim.learning_rate = 1e-4
        c.optim.warmup_steps = 30
    elif variant == "local":
        c.data.batch_size = 4
        c.data.max_concepts = 128
        c.data.num_negatives = 8
        c.train.steps = 10
        c.train.log_every = 2
        c.train.eval_every = 5
        c.train.eval_batches = 1
        c.train.checkpoint_every = 5
        c.optim.warmup_steps = 2
    else:
        raise ValueError(f"unknown pretrain variant {variant!r}: minilm, roberta-base, demo, local")
    return c
