"""The NuNER training step as a PyTorch user would write it with transformers: two encoder towers,
mean-pooled concept names, token x concept dot products, BCE with a positive weight, AdamW with
gradient clipping, the bottom half of the text tower frozen. Eager mode, the usual dynamic padding.

This is the comparison side of the benchmarks, not part of the product.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


class TorchNuNER(torch.nn.Module):
    def __init__(self, model_dir: str, frozen_text_layers: int):
        super().__init__()
        from transformers import AutoModel

        self.text = AutoModel.from_pretrained(model_dir, add_pooling_layer=False, hidden_dropout_prob=0.0,
                                              attention_probs_dropout_prob=0.0)
        self.concept = AutoModel.from_pretrained(model_dir, add_pooling_layer=False, hidden_dropout_prob=0.0,
                                                 attention_probs_dropout_prob=0.0)
        self.log_scale = torch.nn.Parameter(torch.zeros(()))
        self.bias = torch.nn.Parameter(torch.zeros(()))
        if frozen_text_layers > 0:
            for p in self.text.embeddings.parameters():
                p.requires_grad_(False)
            for layer in self.text.encoder.layer[:frozen_text_layers]:
                for p in layer.parameters():
                    p.requires_grad_(False)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        tokens = self.text(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        names = self.concept(input_ids=batch["concept_ids"],
                             attention_mask=batch["concept_attention"]).last_hidden_state
        weights = batch["concept_attention"].unsqueeze(-1).to(names.dtype)
        concepts = (names * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        return torch.einsum("bld,cd->blc", tokens, concepts) * self.log_scale.exp() + self.bias


def nuner_loss(logits: torch.Tensor, batch: dict[str, torch.Tensor], pos_weight: float) -> torch.Tensor:
    mask = (batch["token_mask"].unsqueeze(-1) & batch["concept_mask"].view(1, 1, -1)).to(logits.dtype)
    y = batch["labels"].to(logits.dtype)
    pair = F.binary_cross_entropy_with_logits(
        logits, y, reduction="none", pos_weight=torch.tensor(pos_weight, dtype=logits.dtype, device=logits.device))
    return (pair * mask).sum() / mask.sum().clamp(min=1.0)


def make_optimizer(model: TorchNuNER, lr: float = 1e-4, weight_decay: float = 0.01) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if p.ndim < 2 or "LayerNorm" in name else decay).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=lr)


def train_step(model: TorchNuNER, opt: torch.optim.Optimizer, batch: dict[str, torch.Tensor],
               pos_weight: float = 5.0, clip: float = 1.0, autocast_dtype: str = "float32") -> float:
    """One update; with `autocast_dtype="bfloat16"` the forward runs under autocast (mixed
    precision, float32 master weights), the loss in float32."""
    opt.zero_grad(set_to_none=True)
    dev_type = batch["input_ids"].device.type
    with torch.autocast(dev_type, dtype=torch.bfloat16, enabled=autocast_dtype == "bfloat16"):
        logits = model(batch)
    loss = nuner_loss(logits.float(), batch, pos_weight)
    loss.backward()
    torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], clip)
    opt.step()
    value = float(loss.detach())
    if not math.isfinite(value):
        raise FloatingPointError("non-finite loss in the PyTorch step")
    return value


def device() -> torch.device:
    """The GPU when there is one (benchmarks on a lent GPU machine), else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def to_torch(arrays: dict[str, np.ndarray], dev: torch.device | None = None) -> dict[str, torch.Tensor]:
    out = {}
    for k, v in arrays.items():
        t = torch.from_numpy(np.ascontiguousarray(v))
        out[k] = (t.long() if v.dtype in (np.int32, np.int64) else t).to(dev or "cpu")
    return out
