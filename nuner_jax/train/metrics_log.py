"""Metrics to JSONL (always) and TensorBoard (tensorboardX), written by process 0 only."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jax


class MetricsWriter:
    def __init__(self, workdir: Path, tensorboard: bool = True):
        self.enabled = jax.process_index() == 0
        self.path = Path(workdir) / "metrics.jsonl"
        self._tb = None
        if self.enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if tensorboard:
                try:
                    from tensorboardX import SummaryWriter

                    self._tb = SummaryWriter(str(Path(workdir) / "tensorboard"))
                except ImportError:
                    self._tb = None

    def write(self, step: int, split: str, values: dict[str, float]) -> None:
        if not self.enabled:
            return
        with self.path.open("a") as f:
            f.write(json.dumps({"step": step, "split": split, "time": time.time(), **values}) + "\n")
        if self._tb is not None:
            for k, v in values.items():
                self._tb.add_scalar(f"{split}/{k}", v, step)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
