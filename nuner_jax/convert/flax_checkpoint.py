"""Our side of the boundary: an encoder saved as an Orbax checkpoint plus its config.

Layout: `<dir>/encoder_config.json` (our EncoderConfig fields) and `<dir>/params/` (Orbax).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import orbax.checkpoint as ocp
from flax import nnx

from nuner_jax.convert.checkpoint_files import CheckpointError
from nuner_jax.models.config import EncoderConfig
from nuner_jax.models.encoder import Encoder

CONFIG_NAME = "encoder_config.json"


def save_flax_encoder(model: Encoder, out_dir: str | os.PathLike) -> Path:
    out = Path(out_dir).absolute()
    out.mkdir(parents=True, exist_ok=True)
    (out / CONFIG_NAME).write_text(json.dumps(dataclasses.asdict(model.cfg), indent=2) + "\n")
    params = nnx.state(model, nnx.Param)
    with ocp.StandardCheckpointer() as ckptr:
        ckptr.save(out / "params", params, force=True)
    return out


def load_flax_encoder(src_dir: str | os.PathLike, **config_overrides) -> Encoder:
    src = Path(src_dir).absolute()
    cfg_path = src / CONFIG_NAME
    if not cfg_path.exists():
        raise CheckpointError(f"{cfg_path}: missing; not a nuner-jax Flax encoder directory")
    fields = json.loads(cfg_path.read_text())
    fields.update(config_overrides)
    cfg = EncoderConfig(**fields)
    abstract = nnx.eval_shape(lambda: Encoder(cfg, rngs=nnx.Rngs(0)))
    graphdef, params, rest = nnx.split(abstract, nnx.Param, ...)
    with ocp.StandardCheckpointer() as ckptr:
        try:
            restored = ckptr.restore(src / "params", params)
        except (ValueError, KeyError) as e:
            raise CheckpointError(f"{src / 'params'}: does not match {cfg_path.name} ({e})") from e
    model = Encoder(cfg, rngs=nnx.Rngs(0))
    nnx.update(model, restored)
    return model
