"""Pre-tokenised records in ArrayRecord shards, plus a small in-memory index per split.

The index (lengths and concept ids of every record) lets every host plan batches, concept sets
and packing without reading records it does not own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nuner_jax.data.align import TokenisedWindow

INFO_NAME = "dataset_info.json"
VOCAB_NAME = "concepts.json"


def encode_record(w: TokenisedWindow) -> bytes:
    return json.dumps({"id": w.example_id, "w": w.window, "ids": w.input_ids, "spans": w.spans},
                      separators=(",", ":")).encode()


def decode_record(raw: bytes) -> dict:
    return json.loads(raw)


def shard_paths(data_dir: Path, split: str, num_shards: int) -> list[Path]:
    return [data_dir / f"{split}.array_record-{i:05d}-of-{num_shards:05d}" for i in range(num_shards)]


def write_split(data_dir: Path, split: str, windows: Sequence[TokenisedWindow], records_per_shard: int) -> dict:
    from array_record.python.array_record_module import ArrayRecordWriter

    num_shards = max(1, -(-len(windows) // records_per_shard))
    paths = shard_paths(data_dir, split, num_shards)
    for i, path in enumerate(paths):
        writer = ArrayRecordWriter(str(path), "group_size:1")
        for w in windows[i * records_per_shard : (i + 1) * records_per_shard]:
            writer.write(encode_record(w))
        writer.close()
    lengths = np.array([len(w.input_ids) for w in windows], np.int32)
    concept_lists = [sorted({c for *_, c in w.spans}) for w in windows]
    concept_offsets = np.cumsum([0] + [len(c) for c in concept_lists]).astype(np.int64)
    concepts = np.array([c for cs in concept_lists for c in cs], np.int32)
    np.savez(data_dir / f"{split}.index.npz", lengths=lengths, concept_offsets=concept_offsets, concepts=concepts)
    return {"records": len(windows), "shards": [p.name for p in paths],
            "spans": int(sum(len(w.spans) for w in windows)), "tokens": int(lengths.sum())}


class SplitIndex:
    """Lengths and concept ids of every record of a split, in record order."""

    def __init__(self, data_dir: Path, split: str):
        path = data_dir / f"{split}.index.npz"
        if not path.exists():
            raise FileNotFoundError(f"{path}: missing; is {data_dir} a `nuner-jax prepare` output with split {split!r}?")
        z = np.load(path)
        self.lengths = z["lengths"]
        self._offsets = z["concept_offsets"]
        self._concepts = z["concepts"]

    def __len__(self) -> int:
        return len(self.lengths)

    def concepts_of(self, record: int) -> np.ndarray:
        return self._concepts[self._offsets[record] : self._offsets[record + 1]]


def open_split(data_dir: Path, split: str):
    """A random-access source of raw records (grain's ArrayRecordDataSource)."""
    import grain

    info = read_info(data_dir)
    if split not in info["splits"]:
        raise ValueError(f"{data_dir}: no split {split!r}; has {sorted(info['splits'])}")
    paths = [str(data_dir / name) for name in info["splits"][split]["shards"]]
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        raise FileNotFoundError(f"{data_dir}: shard files missing: {missing}")
    return grain.sources.ArrayRecordDataSource(paths)


def read_info(data_dir: Path) -> dict:
    path = Path(data_dir) / INFO_NAME
    if not Path(data_dir).is_dir():
        raise FileNotFoundError(f"{data_dir}: shard directory does not exist")
    if not path.exists():
        raise FileNotFoundError(f"{path}: missing; run `nuner-jax prepare` to create shards in {data_dir}")
    return json.loads(path.read_text())
