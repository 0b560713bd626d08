"""Shared fixtures: small random BERT/RoBERTa checkpoints and tokenizers built locally (no hub)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

_CORPUS = [
    "The quick brown fox jumps over the lazy dog near Paris.",
    "Barack Obama was president of the United States from 2009 to 2017.",
    "Apple Inc. released a new iPhone in California on Monday.",
    "NuNER pre-trains encoders on LLM-annotated data for entity recognition.",
    "Proteins such as IL-2 bind receptors on T cells in the blood.",
] * 20


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data; tests that need it fail loudly if it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"{path}: shared data missing (expected ../shared/data next to the repo)")
    return path


def build_roberta_tokenizer(out_dir: Path):
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        _CORPUS, vocab_size=400, min_frequency=1, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    bpe.save_model(str(out_dir))
    tok = RobertaTokenizerFast(
        vocab=str(out_dir / "vocab.json"), merges=str(out_dir / "merges.txt"), add_prefix_space=True
    )
    tok.save_pretrained(str(out_dir))
    assert len(tok) == 400, "the tokenizer lost its vocabulary"
    return tok


def build_bert_tokenizer(out_dir: Path):
    from transformers import BertTokenizerFast

    words = sorted({w.strip(".,").lower() for s in _CORPUS for w in s.split()} | set("abcdefghijklmnopqrstuvwxyz"))
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "-", *words]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tok = BertTokenizerFast(vocab=str(out_dir / "vocab.txt"), do_lower_case=True)
    tok.save_pretrained(str(out_dir))
    assert len(tok) == len(vocab), "the tokenizer lost its vocabulary"
    return tok


def small_hf_config(family: str, vocab_size: int, **overrides):
    from transformers import BertConfig, RobertaConfig

    common = dict(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=3,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=130,
    )
    common.update(overrides)
    if family == "roberta":
        return RobertaConfig(**common, type_vocab_size=1, layer_norm_eps=1e-5, pad_token_id=1)
    return BertConfig(**common, hidden_act="gelu_new")


def build_small_checkpoint(family: str, out_dir: Path, seed: int = 0, **config_overrides) -> Path:
    import torch
    from transformers import AutoModel

    tok = build_roberta_tokenizer(out_dir) if family == "roberta" else build_bert_tokenizer(out_dir)
    torch.manual_seed(seed)
    model = AutoModel.from_config(small_hf_config(family, len(tok), **config_overrides))
    model.save_pretrained(str(out_dir))
    return out_dir


@pytest.fixture(scope="session")
def small_roberta_dir(tmp_path_factory) -> Path:
    return build_small_checkpoint("roberta", tmp_path_factory.mktemp("roberta"))


@pytest.fixture(scope="session")
def small_bert_dir(tmp_path_factory) -> Path:
    return build_small_checkpoint("bert", tmp_path_factory.mktemp("bert"))


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    from nuner_jax.models.offline import minilm_dir

    return minilm_dir()
