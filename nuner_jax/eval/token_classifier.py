"""A few-shot NER model for PyTorch users: the frozen encoder plus the fitted linear head, exported as
a Hugging Face token-classification directory that `AutoModelForTokenClassification` and
`pipeline("ner", aggregation_strategy="first")` load.

The probe standardises features before its linear map; the export folds that into the classifier
(W' = W / std, b' = b - (mean / std) @ W), so transformers needs nothing of ours. Only last-layer
features can be exported this way (transformers' heads read the last hidden state).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nuner_jax.convert.checkpoint_files import copy_tokenizer_files, write_safetensors
from nuner_jax.convert.hf import encoder_to_hf_tensors, load_encoder
from nuner_jax.eval.benchmarks import Sentence
from nuner_jax.eval.features import WordFeaturizer
from nuner_jax.eval.fewshot import word_labels
from nuner_jax.eval.linear_probe import LinearProbe, fit_probe
from nuner_jax.models.offline import resolve_model_name


@dataclasses.dataclass
class FewShotTagger:
    """Frozen encoder + linear head over word labels ("O" or an entity type)."""

    model: str
    probe: LinearProbe
    classes: list[str]
    featurizer: WordFeaturizer

    def predict(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        feats = self.featurizer(sentences)
        return [[self.classes[c] for c in self.probe.predict(f)] if len(f) else [] for f in feats]

    def classifier_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """(weight (classes, hidden), bias) acting on raw last-layer states, as torch's Linear stores them."""
        w, b = self.probe.raw_weights()
        return w.T, b


def fit_tagger(model: str, train: Sequence[Sentence], c: float = 1.0, layers: Sequence[int] = (-1,)) -> FewShotTagger:
    if not train:
        raise ValueError("no training sentences")
    featurizer = WordFeaturizer(model, layers=layers)
    classes = ["O", *sorted({t for s in train for t in s.types})]
    ids = {k: i for i, k in enumerate(classes)}
    feats = featurizer([s.words for s in train])
    x = np.concatenate(feats)
    y = np.array([ids[label] for s in train for label in word_labels(s)])
    return FewShotTagger(model, fit_probe(x, y, len(classes), c=c), classes, featurizer)


def export_token_classifier(tagger: FewShotTagger, out_dir: str | Path) -> Path:
    if tagger.featurizer.layers != (-1,):
        raise ValueError(f"only last-layer features export to transformers (got layers {tagger.featurizer.layers})")
    model_dir = Path(resolve_model_name(tagger.model))
    encoder, _ = load_encoder(model_dir)
    family = encoder.cfg.family
    # token-classification models have no pooler
    tensors = {k: v for k, v in encoder_to_hf_tensors(encoder, prefix=f"{family}.").items() if ".pooler." not in k}
    weight, bias = tagger.classifier_weights()
    tensors["classifier.weight"], tensors["classifier.bias"] = weight, bias
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    labels = {i: ("O" if c == "O" else f"I-{c}") for i, c in enumerate(tagger.classes)}
    config = encoder.cfg.to_hf_dict()
    config.update(architectures=["RobertaForTokenClassification" if family == "roberta" else
                                 "BertForTokenClassification"],
                  id2label={str(i): lab for i, lab in labels.items()},
                  label2id={lab: i for i, lab in labels.items()}, classifier_dropout=None)
    (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    write_safetensors(tensors, out / "model.safetensors")
    copy_tokenizer_files(model_dir, out)
    return out
