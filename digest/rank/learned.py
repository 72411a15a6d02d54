"""What a subscriber's 👍 and 👎 teach their ranking: a correction of its log-odds.

Below `weights.LEARN_MIN_VOTES` votes, votes act as liked and disliked papers (see
`select`). From there on, each subscriber's votes are a small logistic regression:

    P(👍 | paper) = σ(o + w · (x − c))

where x is the paper's sentence vector, c the mean vector of the day's papers (so an
ordinary paper of the day is left where it is), and o = logit(`SEND_PROBABILITY`): every
voted paper was one the ranking sent, so the bar it cleared is the prior. w is fitted by
L2-penalised maximum likelihood; the penalty `LEARN_PENALTY` pulls it toward w = 0, "no
change". By the representer theorem w = Σ αᵢ (xᵢ − c) over the n voted papers, so the fit
is n-dimensional (n ≤ the votes kept per subscriber): a few Newton steps on an n × n system,
well under a millisecond, done when the digest is composed. At the optimum
αᵢ = (yᵢ − pᵢ) / penalty, so a 👍 always pulls its look-alikes up and a 👎 always pushes its
look-alikes down, each by how much the vote surprised the model.

Each paper of the day then gets w · (x − c) − `LEARN_SHIFT` added to the profile's log-odds
(its best topic's): once the votes speak, what they vouch for must clear a higher bar. Votes
that are all 👎 vouch for nothing: they get no shift, so they push their look-alikes down
and leave the rest of the digest as it was.
Only profiles with topics learn (the correction adjusts a topic's log-odds); votes of the
others keep acting as liked and disliked papers. Papers from the subscriber's library are
not votes: they keep acting as liked papers either way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from digest.rank import weights
from digest.records import Paper, Profile

NEWTON_STEPS = 25  # at most; the fit stops as soon as a step changes nothing


@dataclass(frozen=True, eq=False)
class Learned:
    """One subscriber's model, fitted against one day's papers (`learn`)."""

    papers: tuple[Paper, ...]  # the voted papers that have a sentence vector
    liked: np.ndarray  # per voted paper: True for 👍, False for 👎
    centred: np.ndarray  # voted papers x dimensions: their vectors minus the day's mean
    weights: np.ndarray  # per voted paper, αᵢ: > 0 pulls look-alikes up, < 0 pushes down
    centre: np.ndarray  # the day's mean vector

    @property
    def direction(self) -> np.ndarray:
        """w: the direction in meaning the votes point to."""
        return np.asarray(self.centred.T @ self.weights, dtype=np.float64)

    @property
    def shift(self) -> float:
        """What every paper loses: the bar the 👍 raise (votes that are all 👎 vouch for
        nothing, so they only push their look-alikes down)."""
        return weights.LEARN_SHIFT if bool(self.liked.any()) else 0.0

    def correction(self, vectors: np.ndarray) -> np.ndarray:
        """What to add to the log-odds of papers with these sentence vectors (rows)."""
        centred = np.asarray(vectors, dtype=np.float64) - self.centre
        return np.asarray(centred @ self.direction - self.shift, dtype=np.float64)

    def strongest_likes(self, vectors: np.ndarray) -> list[Paper | None]:
        """Per paper (rows of sentence vectors), the liked paper that pulls it up the most,
        if any does."""
        centred = np.asarray(vectors, dtype=np.float64) - self.centre
        pulls = self.weights[:, np.newaxis] * (self.centred @ centred.T)  # voted x papers
        pulls[~self.liked] = -np.inf
        best = pulls.argmax(axis=0)
        return [self.papers[b] if pulls[b, n] > 0 else None for n, b in enumerate(best.tolist())]


@dataclass(frozen=True, eq=False)
class Correction:
    """A profile's model and what it adds to the log-odds of each paper of the day."""

    model: Learned
    correction: np.ndarray

    def lifted(self, day: np.ndarray | None, papers: Sequence[int]) -> dict[int, Paper]:
        """Of `papers` (rows of the day), those the votes lifted overall, each with the
        liked paper that pulled it up the most: what their reason names."""
        up = [p for p in papers if self.correction[p] > 0]
        if day is None or not up or not self.model.liked.any():
            return {}
        likes = self.model.strongest_likes(day[up])
        return {p: like for p, like in zip(up, likes, strict=True) if like is not None}


@dataclass(frozen=True)
class Summary:
    """What was learned, for the subscriber to read: the voted papers the model now scores
    highest (more like these) and lowest (less like these), best first."""

    votes: int
    more_like: tuple[Paper, ...]
    less_like: tuple[Paper, ...]


def votes_of(profile: Profile) -> tuple[list[Paper], list[Paper]]:
    """The papers a profile voted 👍 (its library left out) and 👎 on."""
    liked = [p for p in profile.liked if p.id not in profile.library]
    return liked, list(profile.disliked)


def learn_all(
    profiles: Sequence[Profile],
    vectors: Mapping[str, np.ndarray],
    day: np.ndarray | None,
    centre: np.ndarray | None,
) -> list[Correction | None]:
    """Each profile's model (`learn`) and its correction of the day's papers (`day`: their
    vectors, `centre`: their mean), or None. Called by `select.rank_profiles`, which keeps
    BLAS on one thread for every small product of a ranking run."""
    out: list[Correction | None] = [None] * len(profiles)
    if day is None or centre is None or not any(p.liked or p.disliked for p in profiles):
        return out
    for n, profile in enumerate(profiles):
        model = learn(profile, vectors, centre)
        if model is not None:
            out[n] = Correction(model, model.correction(day))
    return out


def learn(
    profile: Profile, vectors: Mapping[str, np.ndarray], centre: np.ndarray | None
) -> Learned | None:
    """The profile's model against a day whose mean paper vector is `centre`, or None while
    it has fewer than `LEARN_MIN_VOTES` votes with a vector (or no topics, or the day has no
    vectors): then its votes act as liked and disliked papers."""
    if centre is None or not profile.topics:
        return None
    liked, disliked = votes_of(profile)
    voted = [(p, True) for p in liked] + [(p, False) for p in disliked]
    voted = [(p, up) for p, up in voted if p.id in vectors]
    if len(voted) < weights.LEARN_MIN_VOTES:
        return None
    centre = np.asarray(centre, dtype=np.float64)
    stacked = np.stack([np.asarray(vectors[p.id], dtype=np.float64) for p, _ in voted])
    centred = stacked - centre
    up = np.array([u for _, u in voted], dtype=bool)
    alpha = fit_weights(centred, up, penalty=weights.LEARN_PENALTY)
    return Learned(tuple(p for p, _ in voted), up, centred, alpha, centre)


def fit_weights(centred: np.ndarray, liked: np.ndarray, *, penalty: float) -> np.ndarray:
    """αᵢ of the penalised logistic regression (kernel form, Newton's method).

    Minimises Σ log-loss(yᵢ, o + fᵢ) + penalty/2 · |w|², f = K α, K = X Xᵀ, w = Xᵀ α. With
    W = diag(p(1 − p)) a Newton step solves (W K + penalty · I) δ = p − y + penalty · α, an
    n × n system that is well conditioned for any penalty > 0."""
    offset = _logit(weights.SEND_PROBABILITY)
    kernel = centred @ centred.T
    target = liked.astype(np.float64)
    alpha = np.zeros(len(target))
    identity = np.eye(len(target))
    for _ in range(NEWTON_STEPS):
        chance = 1.0 / (1.0 + np.exp(-np.clip(offset + kernel @ alpha, -50, 50)))
        gradient = chance - target + penalty * alpha
        hessian = (chance * (1 - chance))[:, np.newaxis] * kernel + penalty * identity
        step = np.linalg.solve(hessian, gradient)
        alpha -= step
        if float(np.abs(step).max(initial=0.0)) < 1e-9:
            break
    return alpha


def without_votes(profile: Profile) -> Profile:
    """The profile once its votes are learned: its library papers still count as liked."""
    return replace(
        profile, liked=tuple(p for p in profile.liked if p.id in profile.library), disliked=()
    )


def summarise(learned: Learned | None, *, count: int = 3) -> Summary | None:
    """The liked papers the model now scores highest and the disliked ones it scores
    lowest (at most `count` of each)."""
    if learned is None:
        return None
    own = learned.centred @ learned.direction
    order = np.argsort(-own, kind="stable")
    more = [learned.papers[i] for i in order if learned.liked[i]][:count]
    less = [learned.papers[i] for i in order[::-1] if not learned.liked[i]][:count]
    return Summary(len(learned.papers), tuple(more), tuple(less))


def mean_vector(vectors: Sequence[np.ndarray] | np.ndarray) -> np.ndarray | None:
    """The centre `learn` measures from: the mean of the day's paper vectors."""
    if len(vectors) == 0:
        return None
    return np.asarray(np.mean(np.asarray(vectors, dtype=np.float64), axis=0))


def _logit(probability: float) -> float:
    return math.log(probability / (1.0 - probability))
