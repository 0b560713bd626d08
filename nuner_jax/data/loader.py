"""The pre-training input pipeline: batches indexed by step.

Batch `step` is a pure function of (seed, step): an epoch's shuffled order and its packing plan
come from the split index alone, so resuming at step N needs no iterator state beyond N, and
every process computes the same global concept set while reading only its own rows.

Each batch: token ids (padded or packed with segment ids), the concepts present in the *global*
batch plus negatives sampled by frequency, and the token x concept label tensor with its masks.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np

from nuner_jax.data.shards import SplitIndex, VOCAB_NAME, decode_record, open_split, read_info
from nuner_jax.data.vocab import ConceptVocab


@dataclasses.dataclass(frozen=True)
class LoaderConfig:
    batch_size: int = 32  # global rows per step
    max_length: int = 128  # tokens per row
    pack: bool = True  # several sentences per row (segment ids keep them apart)
    max_concepts: int = 512  # static concept slots per batch: positives first, then negatives
    num_negatives: int = 64  # concepts absent from the batch, sampled from the vocabulary
    negative_power: float = 0.75  # P(negative) ~ count ** power
    concept_max_length: int = 16
    seed: int = 0


def pack_rows(order: np.ndarray, lengths: np.ndarray, max_length: int, pack: bool) -> list[list[int]]:
    """Greedy in-order packing: a row takes records until the next one does not fit."""
    if not pack:
        return [[int(i)] for i in order]
    rows, row, used = [], [], 0
    for i in order:
        n = int(lengths[i])
        if row and used + n > max_length:
            rows.append(row)
            row, used = [], 0
        row.append(int(i))
        used += n
    if row:
        rows.append(row)
    return rows


class PretrainBatches:
    """Step-indexed batches of one split; this process's rows of every global batch."""

    def __init__(self, data_dir: str | Path, split: str, cfg: LoaderConfig,
                 process_index: int = 0, process_count: int = 1):
        self.data_dir, self.split, self.cfg = Path(data_dir), split, cfg
        self.info = read_info(self.data_dir)
        self.index = SplitIndex(self.data_dir, split)
        self.source = open_split(self.data_dir, split)
        self.vocab = ConceptVocab.load(self.data_dir / VOCAB_NAME)
        if cfg.batch_size % process_count:
            raise ValueError(f"batch_size {cfg.batch_size} is not divisible by {process_count} processes")
        if cfg.num_negatives >= cfg.max_concepts:
            raise ValueError(f"num_negatives {cfg.num_negatives} must be below max_concepts {cfg.max_concepts}")
        too_long = int((self.index.lengths > cfg.max_length).sum())
        if too_long:
            raise ValueError(f"{self.data_dir}: {too_long} records are longer than max_length {cfg.max_length}; "
                             f"prepare with --max_length <= {cfg.max_length}")
        self.process_index, self.process_count = process_index, process_count
        self.local_batch = cfg.batch_size // process_count
        self.pad_id = self.info["tokenizer"]["pad_id"]
        self.special_ids = np.array([self.info["tokenizer"]["cls_id"], self.info["tokenizer"]["sep_id"]])
        counts = np.asarray(self.vocab.counts, np.float64) ** cfg.negative_power
        self._negative_logp = np.log(counts / counts.sum())
        self._concept_tokens = np.full((len(self.vocab), cfg.concept_max_length), self.pad_id, np.int32)
        for i, ids in enumerate(self.vocab.token_ids or []):
            ids = ids[: cfg.concept_max_length]
            self._concept_tokens[i, : len(ids)] = ids
        if self.steps_per_epoch == 0:
            raise ValueError(f"{self.data_dir}/{split}: {len(self.index)} records make no full batch of "
                             f"{cfg.batch_size} rows")

    @functools.cached_property
    def steps_per_epoch(self) -> int:
        return len(self._plan(0)) // self.cfg.batch_size

    @functools.lru_cache(maxsize=2)
    def _plan(self, epoch: int) -> list[list[int]]:
        order = np.random.default_rng([self.cfg.seed, epoch]).permutation(len(self.index))
        return pack_rows(order, self.index.lengths, self.cfg.max_length, self.cfg.pack)

    def rows_of(self, step: int) -> list[list[int]]:
        epoch, i = divmod(step, self.steps_per_epoch)
        b = self.cfg.batch_size
        return self._plan(epoch)[i * b : (i + 1) * b]

    def concepts_of(self, step: int, rows: list[list[int]]) -> tuple[np.ndarray, int]:
        """The global batch's concept slots (positives, then negatives) and how many positives overflowed."""
        cfg = self.cfg
        present = np.unique(np.concatenate([self.index.concepts_of(r) for row in rows for r in row] + [[]]))
        present = present.astype(np.int64)
        room = cfg.max_concepts - cfg.num_negatives
        overflow = max(0, len(present) - room)
        rng = np.random.default_rng([cfg.seed, step, 1])
        if overflow:  # keep a random subset; the rest count as unlabelled this step (reported)
            present = np.sort(rng.choice(present, room, replace=False))
        want = min(cfg.num_negatives, len(self.vocab) - len(present))
        # Sampling without replacement by frequency: Gumbel top-k over log-probabilities.
        keys = self._negative_logp + rng.gumbel(size=len(self.vocab))
        keys[present] = -np.inf
        negatives = np.argpartition(-keys, want)[:want] if want else np.empty(0, np.int64)
        negatives = negatives[np.argsort(-keys[negatives])]
        return np.concatenate([present, negatives]), overflow

    def batch(self, step: int) -> dict[str, np.ndarray]:
        cfg = self.cfg
        rows = self.rows_of(step)
        slots, overflow = self.concepts_of(step, rows)
        slot_of = {int(c): k for k, c in enumerate(slots)}
        lo = self.process_index * self.local_batch
        local_rows = rows[lo : lo + self.local_batch]
        B, L, C = self.local_batch, cfg.max_length, cfg.max_concepts
        input_ids = np.full((B, L), self.pad_id, np.int32)
        segment_ids = np.zeros((B, L), np.int32)
        token_mask = np.zeros((B, L), bool)
        labels = np.zeros((B, L, C), bool)
        records = self.source.__getitems__([r for row in local_rows for r in row])
        k = 0
        for b, row in enumerate(local_rows):
            pos = 0
            for seg, _ in enumerate(row, start=1):
                rec = decode_record(records[k])
                k += 1
                ids = rec["ids"]
                n = len(ids)
                input_ids[b, pos : pos + n] = ids
                segment_ids[b, pos : pos + n] = seg
                token_mask[b, pos : pos + n] = ~np.isin(ids, self.special_ids)
                for first, last, concept in rec["spans"]:
                    slot = slot_of.get(concept)
                    if slot is not None:
                        labels[b, pos + first : pos + last + 1, slot] = True
                pos += n
        concept_mask = np.zeros(C, bool)
        concept_mask[: len(slots)] = True
        concept_ids = np.full((C, cfg.concept_max_length), self.pad_id, np.int32)
        concept_ids[: len(slots)] = self._concept_tokens[slots]
        concept_ids[len(slots):, 0] = self.info["tokenizer"]["cls_id"]  # keep empty slots numerically harmless
        return {
            "input_ids": input_ids,
            "segment_ids": segment_ids,
            "token_mask": token_mask,
            "labels": labels,
            "concept_ids": concept_ids,
            "concept_attention": (concept_ids != self.pad_id).astype(np.int32),
            "concept_mask": concept_mask,
            "concept_overflow": np.asarray(overflow, np.int32),
        }

    def iterate(self, start_step: int, num_steps: int, prefetch: int = 4):
        """Batches start_step .. num_steps-1, built ahead on grain's threads."""
        import grain

        ds = grain.MapDataset.range(start_step, num_steps).map(self.batch)
        return iter(ds.to_iter_dataset(grain.ReadOptions(num_threads=2, prefetch_buffer_size=prefetch)))
