"""The classifier: a DeBERTa-MNLI checkpoint baked into the image (torch/transformers imported here only)."""
from __future__ import annotations

import os
from typing import Any

from server import protocol


class NliModel:
    def __init__(self, path: str | None = None):
        self.path = path or os.environ.get("MODEL_PATH", "/opt/model")
        self.ready = False
        self.problem: str | None = None
        self._tok: Any = None
        self._model: Any = None
        self._order: list[str] = []
        self._device = "cpu"

    def load(self) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self._device = "cuda" if torch.cuda.is_available() else "cpu"
        self._tok = AutoTokenizer.from_pretrained(self.path)
        dtype = torch.float16 if self._device == "cuda" else torch.float32
        self._model = AutoModelForSequenceClassification.from_pretrained(self.path, torch_dtype=dtype)
        self._model.to(self._device).eval()
        self._order = protocol.label_order(self._model.config.id2label)
        self.ready = True

    def classify(self, premise: str, hypothesis: str) -> dict[str, Any]:
        import torch

        enc = self._tok(premise, hypothesis, return_tensors="pt", truncation=True, max_length=512).to(self._device)
        with torch.inference_mode():
            logits = self._model(**enc).logits[0].float().cpu().tolist()
        return protocol.response(logits, self._order)
