"""The stored sentence vectors the delivery ranks with (store → rank), for one composer.

`StoredVectors` reads what the ranking needs, once per composer: the candidate papers'
vectors as one matrix (a paper without a vector gets a zero row, so its words alone still
rank it), and for each batch of profiles their topics' vectors and their liked and disliked
papers' vectors (`rank.vectors.Vectors`). Ranking is then matrix products over these, as in
`digest rank`. A topic without a stored vector (saved while the model could not load, or
before an upgrade) is embedded then and stored, which loads the model in that process; a
process that finds everything stored never loads it. When nothing of the configured model
is stored for the candidates (before `digest db embed`), the day is ranked by words only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from sqlalchemy import Engine

from digest.errors import ConfigError
from digest.pipeline.embed import remember_topics
from digest.rank.embed import SentenceModel
from digest.rank.vectors import Vectors
from digest.records import Paper, Profile
from digest.store.engine import transaction
from digest.store.vectors import paper_vectors

log = logging.getLogger("digest.delivery")


class StoredVectors:
    """Vectors of one model read from the store, kept for the composer's lifetime."""

    def __init__(self, engine: Engine, model: SentenceModel) -> None:
        self.engine = engine
        self.model = model
        self._papers: dict[int, np.ndarray] = {}  # by row id
        self._read: set[int] = set()  # row ids looked up, with a vector or not
        self._topics: dict[str, np.ndarray] = {}
        self._model_id: str | None = None
        self._broken = False

    @property
    def model_id(self) -> str | None:
        """The configured model's id; None (words only, said once in the log) when its
        files are missing or corrupt."""
        if self._model_id is None and not self._broken:
            try:
                self._model_id = self.model.model_id
            except ConfigError as exc:
                self._broken = True
                log.error("ranking by words only: %s", exc)
        return self._model_id

    def paper_matrix(self, papers: Sequence[Paper]) -> np.ndarray | None:
        """One row per paper, in order: its stored vector, or zeros; None when none of them
        has a vector of the model."""
        self._load([p.db_id for p in papers if p.db_id is not None])
        found = [self._papers.get(p.db_id) if p.db_id is not None else None for p in papers]
        present = [v for v in found if v is not None]
        if not present:
            return None
        matrix = np.zeros((len(papers), present[0].shape[0]), dtype=np.float32)
        for row, vector in enumerate(found):
            if vector is not None and vector.shape == present[0].shape:
                matrix[row] = vector
        return matrix

    def for_profiles(self, profiles: Sequence[Profile]) -> Vectors:
        """The vectors of the profiles' topics and of their liked and disliked papers."""
        topics = sorted({t for p in profiles for t in p.topics if t.strip()})
        self._embed_topics([t for t in topics if t not in self._topics])
        voted = {v.db_id: v.id for p in profiles for v in (*p.liked, *p.disliked) if v.db_id}
        self._load(list(voted))
        return Vectors(
            topics={t: self._topics[t] for t in topics if t in self._topics},
            papers={key: self._papers[i] for i, key in voted.items() if i in self._papers},
        )

    def _load(self, db_ids: list[int]) -> None:
        wanted = [i for i in dict.fromkeys(db_ids) if i not in self._read]
        model_id = self.model_id
        if not wanted or model_id is None:
            return
        with transaction(self.engine) as session:
            self._papers.update(paper_vectors(session, wanted, model_id))
        self._read.update(wanted)

    def _embed_topics(self, topics: list[str]) -> None:
        if not topics or self.model_id is None:
            return
        try:
            self._topics.update(remember_topics(self.engine, self.model, topics))
        except ConfigError as exc:  # the files checked out, but the model would not load
            log.error("topics ranked by their words only: %s", exc)
