"""Zero-shot NER with the dual encoder kept from pre-training: label names go through the concept
encoder, every token is scored against every label, and runs of tokens above a threshold become
spans with character offsets. Long texts are scored in overlapping windows (never truncated); a
token takes its scores from the window where it sits farthest from an edge. Windows of short texts
share rows (packing with segment ids), which is where most of the tagging speed comes from."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from nuner_jax.data.align import window_starts
from nuner_jax.data.loader import fill_rows, pack_rows
from nuner_jax.models.build import load_dual_encoder
from nuner_jax.models.dual_encoder import concept_inputs


@dataclasses.dataclass(frozen=True)
class EntitySpan:
    start: int
    end: int
    label: str
    score: float
    text: str


class ZeroShotTagger:
    def __init__(self, model_dir: str | Path, threshold: float = 0.5, max_length: int = 128, stride: int = 96,
                 batch_size: int = 16):
        from transformers import AutoTokenizer

        self.model = load_dual_encoder(model_dir)
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        self.backend = self.tokenizer.backend_tokenizer.__class__.from_str(self.tokenizer.backend_tokenizer.to_str())
        self.backend.no_truncation()
        self.backend.no_padding()
        self.threshold, self.max_length, self.stride, self.batch_size = threshold, max_length, stride, batch_size
        if not 0 < stride <= max_length - 2:
            raise ValueError(f"stride must be in 1..{max_length - 2}")
        graphdef, state = nnx.split(self.model)

        @jax.jit
        def token_vectors(state, ids, segments):
            return nnx.merge(graphdef, state).encode_tokens(ids, segment_ids=segments)

        @jax.jit
        def label_vectors(state, names, attention):
            m = nnx.merge(graphdef, state)
            return m.encode_concepts(**concept_inputs(names, attention))

        @jax.jit
        def scores(state, tokens, labels):
            return jax.nn.sigmoid(nnx.merge(graphdef, state).score(tokens, labels))

        self._state, self._tokens, self._labels, self._scores = state, token_vectors, label_vectors, scores

    def encode_labels(self, labels: Sequence[str]) -> jax.Array:
        if not labels or any(not label.strip() for label in labels):
            raise ValueError(f"labels must be non-empty strings, got {list(labels)}")
        enc = self.tokenizer(list(labels), padding=True, return_tensors="np")
        return self._labels(self._state, jnp.asarray(enc["input_ids"]), jnp.asarray(enc["attention_mask"]))

    def __call__(self, texts: Sequence[str], labels: Sequence[str]) -> list[list[EntitySpan]]:
        scored = self.token_scores(texts, labels)
        return [self.decode(text, offsets, probs, labels) for text, (offsets, probs) in zip(texts, scored)]

    def token_scores(self, texts: Sequence[str], labels: Sequence[str]) -> list[tuple[list, np.ndarray]]:
        """Per text: the character offsets of its tokens and their (tokens, labels) probabilities."""
        label_vecs = self.encode_labels(labels)
        encodings = self.backend.encode_batch(list(texts), add_special_tokens=False)
        body = self.max_length - 2
        pieces = []  # (text index, window start, ids)
        for t, enc in enumerate(encodings):
            for start in window_starts(len(enc.ids), body, self.stride):
                pieces.append((t, start, enc.ids[start : start + body]))
        probs = [np.zeros((len(e.ids), len(labels)), np.float32) for e in encodings]
        best_margin = [np.full(len(e.ids), -1, np.int64) for e in encodings]
        tok = self.tokenizer
        # Windows are packed several to a row (segment ids keep them apart), so short texts do not
        # pay for a full padded row each.
        windows = [[tok.cls_token_id, *body_ids, tok.sep_token_id] for _, _, body_ids in pieces]
        rows = pack_rows(np.arange(len(windows)), np.array([len(w) for w in windows]), self.max_length, pack=True)
        for b in range(0, len(rows), self.batch_size):
            ids, segments, placed = fill_rows(windows, rows[b : b + self.batch_size], self.batch_size,
                                              self.max_length, tok.pad_token_id)
            vecs = self._tokens(self._state, jnp.asarray(ids), jnp.asarray(segments))
            out = np.asarray(self._scores(self._state, vecs, label_vecs))
            for r, offset, k in placed:
                t, start, body_ids = pieces[k]
                first = offset + 1  # after [CLS]/<s>
                n = len(body_ids)
                positions = np.arange(n)
                margin = np.minimum(positions, n - 1 - positions)  # distance to the window's nearer edge
                take = margin > best_margin[t][start : start + n]
                probs[t][start : start + n][take] = out[r, first : first + n][take]
                best_margin[t][start : start + n][take] = margin[take]
        return [(encodings[t].offsets, probs[t]) for t in range(len(texts))]

    def decode(self, text: str, offsets, probs: np.ndarray, labels: Sequence[str],
               threshold: float | None = None) -> list[EntitySpan]:
        """Runs of tokens whose best label clears the threshold become spans (adjacent tokens of
        one label separated by nothing or spaces merge)."""
        threshold = self.threshold if threshold is None else threshold
        spans: list[EntitySpan] = []
        if probs.size == 0:
            return spans
        best = probs.argmax(-1)
        best_p = probs.max(-1)
        current = None  # [start char, end char, label index, scores]
        for i, (s, e) in enumerate(offsets):
            if best_p[i] < threshold:
                current = self._close(current, text, labels, spans)
                continue
            lab = int(best[i])
            if current is not None and current[2] == lab and not text[current[1] : s].strip(" "):
                current[1] = e  # same label, separated by nothing or spaces: one span
                current[3].append(float(best_p[i]))
            else:
                self._close(current, text, labels, spans)
                current = [s, e, lab, [float(best_p[i])]]
        self._close(current, text, labels, spans)
        return spans

    @staticmethod
    def _close(current, text, labels, spans):
        if current is not None:
            s, e, lab, scores = current
            spans.append(EntitySpan(s, e, labels[lab], float(np.mean(scores)), text[s:e]))
        return None
