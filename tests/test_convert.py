"""Hugging Face <-> Flax conversion: lossless round trips and clear errors on bad checkpoints."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest
import torch
from safetensors.numpy import load_file, save_file
from transformers import AutoModel

from nuner_jax.convert.checkpoint_files import CheckpointError
from nuner_jax.convert.flax_checkpoint import load_flax_encoder, save_flax_encoder
from nuner_jax.convert.hf import export_encoder, load_encoder
from nuner_jax.models.config import UnsupportedModelError


@pytest.mark.parametrize("family", ["bert", "roberta"])
def test_round_trip_is_identical_and_loads_cleanly(family, small_bert_dir, small_roberta_dir, tmp_path):
    src = small_bert_dir if family == "bert" else small_roberta_dir
    model, report = load_encoder(src)
    assert not report.missing and not report.unexpected
    out = export_encoder(model, tmp_path / "exported", tokenizer_from=src)

    original = load_file(str(src / "model.safetensors"))
    exported = load_file(str(out / "model.safetensors"))
    for name, tensor in exported.items():
        np.testing.assert_array_equal(tensor, original[name], err_msg=name)

    pt, info = AutoModel.from_pretrained(str(out), output_loading_info=True)
    assert info["missing_keys"] == set() or not info["missing_keys"], info
    assert not info["unexpected_keys"], info
    ref = AutoModel.from_pretrained(str(src)).eval()
    ids = torch.tensor([[2, 10, 11, 12, 13, 3]])
    with torch.no_grad():
        np.testing.assert_allclose(
            pt.eval()(ids).last_hidden_state.numpy(), ref(ids).last_hidden_state.numpy(), atol=1e-6
        )
    assert (out / "tokenizer.json").exists() or (out / "vocab.txt").exists()


def test_minilm_round_trip_keeps_pooler(minilm_path, tmp_path):
    model, report = load_encoder(minilm_path)
    assert model.cfg.with_pooler and len(report.loaded) == 103
    out = export_encoder(model, tmp_path / "minilm", tokenizer_from=minilm_path)
    original = load_file(str(minilm_path / "model.safetensors"))
    exported = load_file(str(out / "model.safetensors"))
    assert set(exported) == set(original) - {"embeddings.position_ids"}
    for name in exported:
        np.testing.assert_array_equal(exported[name], original[name], err_msg=name)


def test_flax_checkpoint_round_trip(small_roberta_dir, tmp_path):
    model, _ = load_encoder(small_roberta_dir)
    save_flax_encoder(model, tmp_path / "flax")
    back = load_flax_encoder(tmp_path / "flax")
    ids = jnp.array([[0, 5, 6, 7, 2]])
    model.eval(), back.eval()
    np.testing.assert_array_equal(model(ids).last_hidden_state, back(ids).last_hidden_state)


def test_prefixed_task_checkpoint_loads(small_bert_dir, tmp_path):
    """A BertForMaskedLM-style checkpoint (`bert.` prefix + head) loads; the head is ignored by name."""
    tensors = load_file(str(small_bert_dir / "model.safetensors"))
    prefixed = {f"bert.{k}": v for k, v in tensors.items()}
    prefixed["cls.predictions.bias"] = np.zeros(3, np.float32)
    d = tmp_path / "mlm"
    d.mkdir()
    shutil.copy(small_bert_dir / "config.json", d / "config.json")
    save_file(prefixed, str(d / "model.safetensors"))
    model, report = load_encoder(d)
    assert "cls.predictions.bias" in report.ignored and not report.unexpected


def test_pytorch_bin_is_read_weights_only(small_bert_dir, tmp_path):
    d = tmp_path / "bin"
    d.mkdir()
    shutil.copy(small_bert_dir / "config.json", d / "config.json")
    tensors = load_file(str(small_bert_dir / "model.safetensors"))
    torch.save({k: torch.from_numpy(v) for k, v in tensors.items()}, d / "pytorch_model.bin")
    model, report = load_encoder(d)
    assert not report.missing


# ---- bad input ---------------------------------------------------------------------------------


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_missing_directory(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_encoder(tmp_path / "nope" / "model")


def test_missing_weights_file(small_bert_dir, tmp_path):
    d = _copy(small_bert_dir, tmp_path / "m")
    (d / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"no weights file"):
        load_encoder(d)


def test_missing_config(small_bert_dir, tmp_path):
    d = _copy(small_bert_dir, tmp_path / "m")
    (d / "config.json").unlink()
    with pytest.raises(CheckpointError, match=r"config.json: missing"):
        load_encoder(d)


def test_unsupported_architecture(small_bert_dir, tmp_path):
    d = _copy(small_bert_dir, tmp_path / "m")
    cfg = json.loads((d / "config.json").read_text())
    cfg["model_type"] = "gpt2"
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(UnsupportedModelError, match="gpt2"):
        load_encoder(d)


def test_wrong_shape_names_the_tensor(small_bert_dir, tmp_path):
    d = _copy(small_bert_dir, tmp_path / "m")
    tensors = load_file(str(d / "model.safetensors"))
    tensors["encoder.layer.1.intermediate.dense.weight"] = np.zeros((10, 32), np.float32)
    save_file(tensors, str(d / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"encoder.layer.1.intermediate.dense.weight.*\(10, 32\)"):
        load_encoder(d)


def test_missing_tensor_is_named(small_bert_dir, tmp_path):
    d = _copy(small_bert_dir, tmp_path / "m")
    tensors = load_file(str(d / "model.safetensors"))
    del tensors["encoder.layer.2.output.LayerNorm.bias"]
    save_file(tensors, str(d / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"missing \['encoder.layer.2.output.LayerNorm.bias'\]"):
        load_encoder(d)
    _, report = load_encoder(d, strict=False)
    assert report.missing == ["encoder.layer.2.output.LayerNorm.bias"]


def test_unexpected_tensor_is_named(small_bert_dir, tmp_path):
    d = _copy(small_bert_dir, tmp_path / "m")
    tensors = load_file(str(d / "model.safetensors"))
    tensors["encoder.layer.9.mystery.weight"] = np.zeros(2, np.float32)
    save_file(tensors, str(d / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"unexpected \['encoder.layer.9.mystery.weight'\]"):
        load_encoder(d)


def test_truncated_safetensors(small_bert_dir, tmp_path):
    d = _copy(small_bert_dir, tmp_path / "m")
    data = (d / "model.safetensors").read_bytes()
    (d / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"model.safetensors: truncated or corrupt"):
        load_encoder(d)


def test_garbage_safetensors(small_bert_dir, tmp_path):
    d = _copy(small_bert_dir, tmp_path / "m")
    (d / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match=r"model.safetensors: truncated or corrupt"):
        load_encoder(d)


def test_cli_converts_both_ways(small_roberta_dir, tmp_path):
    flax_dir, hf_dir = tmp_path / "flax", tmp_path / "hf"
    run = lambda *a: subprocess.run([sys.executable, "-m", "nuner_jax.cli", *a], capture_output=True, text=True)
    r = run("convert", "hf-to-flax", str(small_roberta_dir), str(flax_dir))
    assert r.returncode == 0, r.stderr
    r = run("convert", "flax-to-hf", str(flax_dir), str(hf_dir), "--tokenizer-from", str(small_roberta_dir))
    assert r.returncode == 0, r.stderr
    original = load_file(str(small_roberta_dir / "model.safetensors"))
    for name, tensor in load_file(str(hf_dir / "model.safetensors")).items():
        np.testing.assert_array_equal(tensor, original[name])
    r = run("convert", "hf-to-flax", str(tmp_path / "absent"), str(tmp_path / "x"))
    assert r.returncode != 0 and "does not exist" in r.stderr
