"""The tensorflow-datasets builder that writes pre-tokenised windows as ArrayRecord shards.

No TensorFlow needed: tfds writes ArrayRecord files plus its dataset info (splits, counts,
features), and reads them back as random-access data sources for grain.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import tensorflow_datasets as tfds

from nuner_jax.data.align import TokenisedWindow

BUILDER_NAME = "nuner_shards"


class NunerShards(tfds.core.GeneratorBasedBuilder):
    """Records: id, window index, token ids (with special tokens), spans (first, last, concept id)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Token ids and (first, last inclusive, concept id) spans per window."}

    def __init__(self, *, windows: dict[str, Sequence[TokenisedWindow]] | None = None, **kwargs):
        self._windows = windows or {}
        super().__init__(**kwargs)

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description="NuNER pre-training windows: LLM concept spans aligned to tokens.",
            features=tfds.features.FeaturesDict({
                "id": tfds.features.Text(),
                "window": tfds.features.Scalar(dtype=np.int32),
                "input_ids": tfds.features.Tensor(shape=(None,), dtype=np.int32),
                "spans": tfds.features.Tensor(shape=(None, 3), dtype=np.int32),
            }),
        )

    def _split_generators(self, dl_manager):
        if not self._windows:
            raise ValueError("NunerShards: nothing to write (construct it with windows=...)")
        return {name: self._generate_examples(ws) for name, ws in self._windows.items()}

    def _generate_examples(self, windows: Sequence[TokenisedWindow]) -> Iterator:
        for w in windows:
            spans = np.asarray(w.spans, np.int32).reshape(-1, 3)
            yield f"{w.example_id}#{w.window}", {"id": w.example_id, "window": w.window,
                                                  "input_ids": np.asarray(w.input_ids, np.int32), "spans": spans}
