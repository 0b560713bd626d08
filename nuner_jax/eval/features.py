"""Word features from a frozen encoder: the first subword of each word, from one hidden layer or
a concatenation (NuNER's "two emb": last ++ 7th from the end). Long sentences are encoded in
word-aligned chunks, never truncated."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from nuner_jax.convert.hf import load_encoder
from nuner_jax.models.dual_encoder import token_features
from nuner_jax.models.offline import resolve_model_name


def load_tokenizer_for_words(model_dir: str | Path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    if getattr(tok, "add_prefix_space", None) is False or "roberta" in type(tok).__name__.lower():
        tok = AutoTokenizer.from_pretrained(str(model_dir), add_prefix_space=True)  # pre-split words
    return tok


class WordFeaturizer:
    def __init__(self, model: str | Path, layers: Sequence[int] = (-1,), batch_size: int = 32,
                 max_length: int | None = None):
        model_dir = resolve_model_name(str(model))
        self.tokenizer = load_tokenizer_for_words(model_dir)
        encoder, _ = load_encoder(model_dir, hidden_dropout=0.0, attention_dropout=0.0)
        encoder.eval()
        self.layers = tuple(layers)
        self.dim = encoder.cfg.hidden_size * len(self.layers)
        self.max_length = min(max_length or 512, encoder.cfg.max_sequence_length)
        self.batch_size = batch_size
        # Parameters apart from the rest, so fine-tuning can differentiate them and swap them in.
        self.graphdef, self.params, self.rest = nnx.split(encoder, nnx.Param, ...)

        @jax.jit
        def forward(params, rest, ids, mask):
            return self.features(params, rest, ids, mask)

        self._forward = forward

    def features(self, params, rest, ids: jax.Array, mask: jax.Array) -> jax.Array:
        """(batch, length, dim) token features; traceable (fine-tuning differentiates through it)."""
        out = nnx.merge(self.graphdef, params, rest)(ids, attention_mask=mask)
        return token_features(out.hidden_states, self.layers)

    def word_pieces(self, sentences: Sequence[Sequence[str]]):
        """(sentence index, token ids with specials, first-subword position of each word it covers)."""
        tok = self.tokenizer
        enc = tok([list(s) for s in sentences], is_split_into_words=True, add_special_tokens=False)
        body = self.max_length - 2
        for i, words in enumerate(sentences):
            ids = enc["input_ids"][i]
            word_ids = enc.word_ids(i)
            first: dict[int, int] = {}
            for pos, w in enumerate(word_ids):
                if w is not None and w not in first:
                    first[w] = pos
            start = 0
            while start < len(ids) or (start == 0 and not ids):
                stop = min(len(ids), start + body)
                if stop < len(ids):  # cut before the word that straddles the boundary
                    w_at = word_ids[stop]
                    cut = first.get(w_at, stop)
                    stop = cut if cut > start else stop
                covered = {w: p - start + 1 for w, p in first.items() if start <= p < stop}
                yield i, [tok.cls_token_id, *ids[start:stop], tok.sep_token_id], covered
                if stop >= len(ids):
                    break
                start = stop

    def __call__(self, sentences: Sequence[Sequence[str]], params=None) -> list[np.ndarray]:
        """One (n_words, dim) float32 array per sentence (zeros for words with no subword);
        `params` replaces the encoder's own (a fine-tuned copy)."""
        params = self.params if params is None else params
        feats = [np.zeros((len(s), self.dim), np.float32) for s in sentences]
        pieces = sorted(self.word_pieces(sentences), key=lambda p: len(p[1]))
        pad = self.tokenizer.pad_token_id
        for b in range(0, len(pieces), self.batch_size):
            chunk = pieces[b : b + self.batch_size]
            length = -(-max(len(p[1]) for p in chunk) // 16) * 16
            ids = np.full((self.batch_size, length), pad, np.int32)
            mask = np.zeros((self.batch_size, length), np.int32)
            for r, (_, toks, _) in enumerate(chunk):
                ids[r, : len(toks)] = toks
                mask[r, : len(toks)] = 1
            out = np.asarray(self._forward(params, self.rest, jnp.asarray(ids), jnp.asarray(mask)))
            for r, (i, _, covered) in enumerate(chunk):
                for w, pos in covered.items():
                    feats[i][w] = out[r, pos]
        return feats
