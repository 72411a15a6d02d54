"""Sentence vectors for the benchmarks: computed once per model with the packaged model, as
the service computes them (one text a model call), and kept in bench/.cache, so a benchmark
that needs a day's vectors in its database stores them in seconds instead of embedding the
day again on every run (`bench/embed.py` measures what embedding costs)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from digest.rank.embed import SentenceModel

CACHE = Path(__file__).resolve().parent / ".cache"


def cached_vectors(name: str, texts: Mapping[str, str]) -> dict[str, np.ndarray]:
    """The vector of each text (by its key), from bench/.cache/NAME-…npz when it is there,
    else embedded now and added to it. A change of model makes a new cache file."""
    model = SentenceModel()
    safe = model.model_id.replace("/", "_").replace(":", "-")
    path = CACHE / f"{name}-alone-{safe}.npz"
    stored: dict[str, np.ndarray] = {}
    if path.exists():
        with np.load(path) as saved:
            stored = dict(zip(saved["ids"].tolist(), saved["vectors"], strict=True))
    fresh = sorted(set(texts) - set(stored))
    if fresh:
        print(f"embedding {len(fresh):,} {name} once (cached in bench/.cache/{path.name}) ...")
        stored.update(zip(fresh, model.embed([texts[key] for key in fresh]), strict=True))
        CACHE.mkdir(exist_ok=True)
        keys = sorted(stored)
        np.savez(path, ids=np.array(keys), vectors=np.stack([stored[k] for k in keys]))
    return {key: stored[key] for key in texts}
