"""The sentence-transformers embedder: queries on one torch thread, same vectors."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from chalicelib.adapters.embedders import (  # noqa: E402
    SentenceTransformerEmbedder,
    intra_op_threads,
)

TEXTS = [
    "How do I profile a slow Python service in production?",
    "kubernetes",
    "Comment comptabiliser une note de frais en devise étrangère ?",
    "what is spin as it relates to subatomic particles " * 40,  # longer than 256 tokens
]


class ThreadRecordingModel:
    """Stands in for SentenceTransformer: records torch's thread count during encode."""

    def __init__(self):
        self.threads: list[int] = []

    def encode(self, texts, **options):
        self.threads.append(torch.get_num_threads())
        return np.ones((len(texts), 384), dtype=np.float32) / np.sqrt(384)


@pytest.fixture
def two_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


def test_the_thread_count_is_lowered_inside_and_restored_after(two_threads):
    with intra_op_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    with pytest.raises(RuntimeError), intra_op_threads(1):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == 2
    with intra_op_threads(None):
        assert torch.get_num_threads() == 2
    with intra_op_threads(4):  # never raised
        assert torch.get_num_threads() == 2


def test_queries_run_on_one_thread_and_batches_on_the_default(two_threads):
    embedder = SentenceTransformerEmbedder(small_batch=2)
    embedder._model = model = ThreadRecordingModel()
    embedder.embed(["one query"])
    embedder.embed(["a", "b"])
    embedder.embed(["a", "b", "c"])
    assert model.threads == [1, 1, 2]
    assert torch.get_num_threads() == 2
    embedder.small_batch_threads = None
    embedder.embed(["one query"])
    assert model.threads[-1] == 2


@pytest.mark.slow
def test_one_thread_gives_the_same_vectors(real_embedder, two_threads):
    inner = real_embedder.inner
    alone = np.concatenate([inner.embed([text]) for text in TEXTS])  # one thread each
    together = inner.embed(TEXTS * 3)[:len(TEXTS)]  # a batch: the default two threads
    assert alone.dtype == np.float32 and alone.shape == (len(TEXTS), 384)
    cosines = (alone * together).sum(axis=1)
    assert np.all(cosines >= 1 - 1e-5), cosines
