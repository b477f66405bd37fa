"""Fakes that honour the ports, so tests need no model."""
from __future__ import annotations

import hashlib

import numpy as np

from chalicelib.domain import normalize_skill


class FakeEmbedder:
    """Bag of hashed words: texts sharing words get close vectors. Deterministic, instant."""

    dimensions = 384

    def __init__(self):
        self.calls = 0
        self.texts = 0

    def embed(self, texts):
        self.calls += 1
        self.texts += len(texts)
        vectors = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in normalize_skill(text).split():
                digest = hashlib.md5(word.strip(".,;:?!").encode()).digest()
                vectors[row, int.from_bytes(digest[:4], "little") % self.dimensions] += 1.0
            norm = np.linalg.norm(vectors[row])
            vectors[row] = vectors[row] / norm if norm else vectors[row]
            if not norm:
                vectors[row, 0] = 1.0
        return vectors
