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

from nuner_jax.data.shards import VOCAB_NAME, SplitIndex, open_split, read_info
from nuner_jax.data.vocab import ConceptVocab


PACK_OPEN_ROWS = 8  # best-fit packing's open rows: ~98% full rows on NuNER's data (1: greedy, ~80%)


@dataclasses.dataclass(frozen=True)
class LoaderConfig:
    batch_size: int = 32  # global rows per step
    max_length: int = 128  # tokens per row
    pack: bool = True  # several sentences per row (segment ids keep them apart)
    pack_open_rows: int = PACK_OPEN_ROWS  # best-fit packing over this many open rows (1: greedy in order)
    max_concepts: int = 448  # static concept slots per batch: positives first, then negatives
    num_negatives: int = 64  # concepts absent from the batch, sampled from the vocabulary
    negative_power: float = 0.75  # P(negative) ~ count ** power
    concept_max_length: int = 16  # tokens per concept name (special tokens included)
    concept_row_length: int = 64  # concept names are packed into rows of this many tokens
    concept_rows: int = 0  # static rows for concept names; 0: max_concepts * 4 tokens / row length
    max_records: int = 0  # > 0: train on a fixed random subset of this many records (data-size ablation)
    concept_vocab_cap: int = 0  # > 0: only the N most frequent concepts label tokens (diversity ablation)
    seed: int = 0

    @property
    def num_concept_rows(self) -> int:
        return self.concept_rows or -(-self.max_concepts * 4 // self.concept_row_length)


def pack_rows(order: np.ndarray, lengths: np.ndarray, max_length: int, pack: bool,
              open_rows: int = PACK_OPEN_ROWS) -> list[list[int]]:
    """Pack records (in `order`) into rows of at most `max_length` tokens.

    Best fit over a few open rows: each record goes to the fullest open row it fits; a record that
    fits none opens a row, and when more than `open_rows` are open the fullest is closed. One open
    row is plain greedy packing (~80% full on NuNER's mix of short sentences and 128-token
    windows); eight give ~98% while records stay close to their shuffled order."""
    if not pack:
        return [[int(i)] for i in order]
    if open_rows < 1:
        raise ValueError(f"open_rows must be >= 1, got {open_rows}")
    rows: list[list[int]] = []
    open_: list[list] = []  # [tokens used, records], in opening order
    for i in order:
        n = int(lengths[i])
        fits = [row for row in open_ if row[0] + n <= max_length]
        if fits:
            row = max(fits, key=lambda row: row[0])
            row[0] += n
            row[1].append(int(i))
            continue
        if len(open_) == open_rows:
            fullest = max(open_, key=lambda row: row[0])
            open_.remove(fullest)
            rows.append(fullest[1])
        open_.append([n, [int(i)]])
    rows.extend(members for _, members in open_)
    return rows


def fill_rows(sequences: list[list[int]], rows: list[list[int]], num_rows: int, length: int,
              pad_id: int) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, int]]]:
    """Token ids and segment ids (num_rows, length) for `rows` (indices into `sequences`, as from
    `pack_rows`), and (row, offset, sequence index) for every placed sequence."""
    ids = np.full((num_rows, length), pad_id, np.int32)
    segments = np.zeros((num_rows, length), np.int32)
    placed = []
    for r, row in enumerate(rows):
        pos = 0
        for seg, i in enumerate(row, start=1):
            seq = sequences[i]
            ids[r, pos : pos + len(seq)] = seq
            segments[r, pos : pos + len(seq)] = seg
            placed.append((r, pos, i))
            pos += len(seq)
    return ids, segments, placed


def pack_concept_names(names: list[list[int]], cfg: LoaderConfig, pad_id: int) -> dict[str, np.ndarray]:
    """Concept names (token ids with specials) packed into fixed rows, in slot order.

    Returns the rows, their segment ids (one segment per name), the slot of every token
    (`max_concepts` for padding), the flat index of each slot's first token, and the slot mask.
    Names that no longer fit are left out (the caller reports them).
    """
    R, Lr, C = cfg.num_concept_rows, cfg.concept_row_length, cfg.max_concepts
    ids = np.full((R, Lr), pad_id, np.int32)
    segments = np.zeros((R, Lr), np.int32)
    token_slot = np.full((R, Lr), C, np.int32)
    first = np.zeros(C, np.int32)
    mask = np.zeros(C, bool)
    row, pos = 0, 0
    for slot, name in enumerate(names[:C]):
        if pos + len(name) > Lr:
            row, pos = row + 1, 0
        if row >= R:
            break
        ids[row, pos : pos + len(name)] = name
        segments[row, pos : pos + len(name)] = slot + 1
        token_slot[row, pos : pos + len(name)] = slot
        first[slot] = row * Lr + pos
        mask[slot] = True
        pos += len(name)
    return {"concept_ids": ids, "concept_segments": segments, "concept_token_slot": token_slot,
            "concept_first": first, "concept_mask": mask}


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
        self.num_concepts = min(len(self.vocab), cfg.concept_vocab_cap) if cfg.concept_vocab_cap else len(self.vocab)
        counts = np.asarray(self.vocab.counts[: self.num_concepts], np.float64) ** cfg.negative_power
        self._negative_logp = np.log(counts / counts.sum())
        if not self.vocab.token_ids:
            raise ValueError(f"{self.data_dir / VOCAB_NAME}: concepts have no token ids; re-run prepare")
        if cfg.concept_max_length > cfg.concept_row_length:
            raise ValueError("concept_max_length must not exceed concept_row_length")
        self._concept_tokens = [ids[: cfg.concept_max_length - 1] + ids[-1:] if len(ids) > cfg.concept_max_length
                                else ids for ids in self.vocab.token_ids]
        if self.steps_per_epoch == 0:
            raise ValueError(f"{self.data_dir}/{split}: {len(self.index)} records make no full batch of "
                             f"{cfg.batch_size} rows")

    @functools.cached_property
    def steps_per_epoch(self) -> int:
        return len(self._plan(0)) // self.cfg.batch_size

    @functools.lru_cache(maxsize=2)
    def _plan(self, epoch: int) -> list[list[int]]:
        records = np.arange(len(self.index))
        if self.cfg.max_records and self.cfg.max_records < len(records):  # the same subset every epoch
            records = np.sort(np.random.default_rng([self.cfg.seed, 2**31 - 1]).choice(
                records, self.cfg.max_records, replace=False))
        order = records[np.random.default_rng([self.cfg.seed, epoch]).permutation(len(records))]
        return pack_rows(order, self.index.lengths, self.cfg.max_length, self.cfg.pack, self.cfg.pack_open_rows)

    def rows_of(self, step: int) -> list[list[int]]:
        epoch, i = divmod(step, self.steps_per_epoch)
        b = self.cfg.batch_size
        return self._plan(epoch)[i * b : (i + 1) * b]

    def concepts_of(self, step: int, rows: list[list[int]]) -> tuple[np.ndarray, int]:
        """The global batch's concept slots (positives, then negatives) and how many positives overflowed."""
        cfg = self.cfg
        present = np.unique(np.concatenate([self.index.concepts_of(r) for row in rows for r in row] + [[]]))
        present = present.astype(np.int64)
        present = present[present < self.num_concepts]
        room = cfg.max_concepts - cfg.num_negatives
        overflow = max(0, len(present) - room)
        rng = np.random.default_rng([cfg.seed, step, 1])
        if overflow:  # keep a random subset; the rest count as unlabelled this step (reported)
            present = np.sort(rng.choice(present, room, replace=False))
        want = min(cfg.num_negatives, self.num_concepts - len(present))
        # Sampling without replacement by frequency: Gumbel top-k over log-probabilities.
        keys = self._negative_logp + rng.gumbel(size=self.num_concepts)
        keys[present] = -np.inf
        negatives = np.argpartition(-keys, want)[:want] if want else np.empty(0, np.int64)
        negatives = negatives[np.argsort(-keys[negatives])]
        return np.concatenate([present, negatives]), overflow

    def concept_name_ids(self, slots) -> list[list[int]]:
        """Token ids (with special tokens, capped at concept_max_length) of the given concepts' names."""
        return [self._concept_tokens[int(c)] for c in slots]

    def batch(self, step: int) -> dict[str, np.ndarray]:
        rows = self.rows_of(step)
        lo = self.process_index * self.local_batch
        return self.assemble(step, rows, rows[lo : lo + self.local_batch])

    def assemble(self, step: int, rows: list[list[int]], local_rows: list[list[int]]) -> dict[str, np.ndarray]:
        """The arrays for `local_rows` (records per row) of a global batch made of `rows`.

        Concept slots depend only on the set of records in `rows` and on `step`, so the same
        sentences packed or padded get the same slots (the packing regression test relies on it).
        """
        cfg = self.cfg
        slots, overflow = self.concepts_of(step, rows)
        slot_of = {int(c): k for k, c in enumerate(slots)}
        B, L, C = len(local_rows), cfg.max_length, cfg.max_concepts
        input_ids = np.full((B, L), self.pad_id, np.int32)
        segment_ids = np.zeros((B, L), np.int32)
        token_mask = np.zeros((B, L), bool)
        labels = np.zeros((B, L, C), bool)
        wanted = [r for row in local_rows for r in row]
        records = self.source.__getitems__(wanted) if hasattr(self.source, "__getitems__") else \
            [self.source[i] for i in wanted]
        k = 0
        for b, row in enumerate(local_rows):
            pos = 0
            for seg, _ in enumerate(row, start=1):
                rec = records[k]
                k += 1
                ids = rec["input_ids"]
                n = len(ids)
                input_ids[b, pos : pos + n] = ids
                segment_ids[b, pos : pos + n] = seg
                token_mask[b, pos : pos + n] = ~np.isin(ids, self.special_ids)
                for first, last, concept in rec["spans"]:
                    slot = slot_of.get(concept)
                    if slot is not None:
                        labels[b, pos + first : pos + last + 1, slot] = True
                pos += n
        concepts = pack_concept_names(self.concept_name_ids(slots), cfg, self.pad_id)
        n_packed = int(concepts["concept_mask"].sum())
        overflow += max(0, min(len(slots), cfg.max_concepts - cfg.num_negatives) - n_packed)
        if n_packed < len(slots):  # names that did not fit the concept rows lose their labels this step
            labels[:, :, n_packed:] = False
        return {
            "input_ids": input_ids,
            "segment_ids": segment_ids,
            "token_mask": token_mask,
            "labels": labels,
            **concepts,
            "concept_overflow": np.asarray(overflow, np.int32),
        }

    def iterate(self, start_step: int, num_steps: int, prefetch: int = 4):
        """Batches start_step .. num_steps-1, built ahead on grain's threads."""
        import grain

        ds = grain.MapDataset.range(start_step, num_steps).map(self.batch)
        return iter(ds.to_iter_dataset(grain.ReadOptions(num_threads=2, prefetch_buffer_size=prefetch)))
