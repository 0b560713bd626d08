"""Pre-tokenised records in ArrayRecord shards (written by a tfds builder), plus a small index per split.

The index (lengths and concept ids of every record) lets every host plan batches, concept sets
and packing without reading records it does not own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nuner_jax.data.align import TokenisedWindow

INFO_NAME = "nuner_info.json"
VOCAB_NAME = "concepts.json"


TFDS_DIR = "tfds"


def _builder(data_dir: Path, windows=None):
    from nuner_jax.data.tfds_builder import NunerShards

    return NunerShards(data_dir=str(Path(data_dir) / TFDS_DIR), file_format="array_record", windows=windows)


def write_splits(data_dir: Path, windows: dict[str, Sequence[TokenisedWindow]], records_per_shard: int) -> dict:
    """Write every split through the tfds builder, then index the records in their stored order."""
    import tensorflow_datasets as tfds

    builder = _builder(data_dir, windows)
    max_bytes = max(1, records_per_shard) * 1024  # about 1 KiB per short window
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(max_shard_size=max_bytes))
    sources = builder.as_data_source()
    out = {}
    for split in windows:
        source = sources[split]
        lengths, concept_lists, spans = [], [], 0
        for i in range(len(source)):
            rec = source[i]
            lengths.append(len(rec["input_ids"]))
            concept_lists.append(sorted({int(c) for c in rec["spans"][:, 2]}))
            spans += len(rec["spans"])
        offsets = np.cumsum([0] + [len(c) for c in concept_lists]).astype(np.int64)
        concepts = np.array([c for cs in concept_lists for c in cs], np.int32)
        np.savez(data_dir / f"{split}.index.npz", lengths=np.array(lengths, np.int32), concept_offsets=offsets,
                 concepts=concepts)
        info = builder.info.splits[split]
        out[split] = {"records": len(source), "shards": info.num_shards, "spans": spans, "tokens": int(sum(lengths))}
    return out


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
    """A random-access source of decoded records (the tfds ArrayRecord data source, used by grain)."""
    info = read_info(data_dir)
    if split not in info["splits"]:
        raise ValueError(f"{data_dir}: no split {split!r}; has {sorted(info['splits'])}")
    try:
        return _builder(data_dir).as_data_source()[split]
    except Exception as e:  # missing or damaged shard files
        raise FileNotFoundError(f"{data_dir / TFDS_DIR}: cannot open the {split!r} shards ({e})") from e


def read_info(data_dir: Path) -> dict:
    path = Path(data_dir) / INFO_NAME
    if not Path(data_dir).is_dir():
        raise FileNotFoundError(f"{data_dir}: shard directory does not exist")
    if not path.exists():
        raise FileNotFoundError(f"{path}: missing; run `nuner-jax prepare` to create shards in {data_dir}")
    return json.loads(path.read_text())
