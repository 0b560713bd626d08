"""The concept vocabulary: normalised names, counts and ids, saved next to the shards.

NuNER's concepts are free text with near-duplicates ("Company", "company "); normalisation
(case, whitespace) merges the trivial ones. Ids are ordered by frequency, so id 0 is the most
common concept and negatives can be sampled by frequency.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

_SPACES = re.compile(r"\s+")


@dataclasses.dataclass(frozen=True)
class NormalisationConfig:
    lowercase: bool = True
    collapse_whitespace: bool = True

    def __call__(self, name: str) -> str:
        if self.collapse_whitespace:
            name = _SPACES.sub(" ", name).strip()
        return name.lower() if self.lowercase else name


@dataclasses.dataclass
class ConceptVocab:
    names: list[str]
    counts: list[int]
    normalisation: NormalisationConfig = dataclasses.field(default_factory=NormalisationConfig)
    token_ids: list[list[int]] | None = None  # each name tokenised for the concept encoder

    def __post_init__(self) -> None:
        self._ids = {n: i for i, n in enumerate(self.names)}

    def __len__(self) -> int:
        return len(self.names)

    def id_of(self, raw_name: str) -> int | None:
        return self._ids.get(self.normalisation(raw_name))

    @classmethod
    def build(
        cls, raw_names: Iterable[str], min_count: int = 1, normalisation: NormalisationConfig | None = None
    ) -> tuple["ConceptVocab", dict[str, int]]:
        """Vocabulary of names seen at least `min_count` times; also returns the names left out."""
        norm = normalisation or NormalisationConfig()
        counts = Counter(norm(n) for n in raw_names)
        counts.pop("", None)
        kept = sorted((n for n, c in counts.items() if c >= min_count), key=lambda n: (-counts[n], n))
        dropped = {n: c for n, c in counts.items() if c < min_count}
        return cls(kept, [counts[n] for n in kept], norm), dropped

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        payload = {
            "normalisation": dataclasses.asdict(self.normalisation),
            "concepts": [
                {"id": i, "name": n, "count": c, **({"token_ids": self.token_ids[i]} if self.token_ids else {})}
                for i, (n, c) in enumerate(zip(self.names, self.counts))
            ],
        }
        path.write_text(json.dumps(payload, ensure_ascii=False) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> "ConceptVocab":
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no concept vocabulary (run `nuner-jax prepare` first)")
        payload = json.loads(path.read_text(encoding="utf-8"))
        concepts = payload["concepts"]
        token_ids = [c["token_ids"] for c in concepts] if concepts and "token_ids" in concepts[0] else None
        return cls(
            [c["name"] for c in concepts],
            [c["count"] for c in concepts],
            NormalisationConfig(**payload["normalisation"]),
            token_ids,
        )
