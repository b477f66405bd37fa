"""The torch-free embedder (ONNX) gives the reference model's vectors."""
from __future__ import annotations

import numpy as np
import pytest

from chalicelib.adapters.embedders import OnnxEmbedder

TEXTS = [
    "How do I profile a slow Python service in production?",
    "Why does my Kubernetes pod restart with OOMKilled?",
    "kubernetes",
    "Comment comptabiliser une note de frais en devise étrangère ?",
    "Quelle stratégie de tests automatisés pour une API REST ?",
    "Réponse automatique : absent du bureau jusqu'au 12 mars",
    "sécurité applicative; droit du travail; TVA",
    "what is spin as it relates to subatomic particles " * 40,  # longer than 256 tokens
    "",
]


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory):
    from indexer.export_onnx import export
    return export(tmp_path_factory.mktemp("onnx"))


def test_onnx_vectors_match_sentence_transformers(onnx_dir, real_embedder):
    reference = real_embedder.inner.embed(TEXTS)
    vectors = OnnxEmbedder(str(onnx_dir)).embed(TEXTS)
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    cosines = (reference * vectors).sum(axis=1)
    assert cosines.min() >= 0.99, cosines
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_batches_give_the_same_vectors_as_single_texts(onnx_dir):
    embedder = OnnxEmbedder(str(onnx_dir), batch_size=3)
    together = embedder.embed(TEXTS)
    alone = np.concatenate([embedder.embed([t]) for t in TEXTS])
    assert np.allclose(together, alone, atol=1e-4)
