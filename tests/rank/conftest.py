"""Fixtures for ranking tests: a small hand-written day of papers."""

from __future__ import annotations

import pytest

from digest.records import Paper


def paper(pid: str, title: str, abstract: str = "", **fields: object) -> Paper:
    return Paper(id=pid, title=title, abstract=abstract, **fields)  # type: ignore[arg-type]


@pytest.fixture
def small_day() -> list[Paper]:
    """Twelve papers on distinct subjects, two of them near-duplicates."""
    return [
        paper(
            "g1",
            "Fast 3D Gaussian Splatting for Novel View Synthesis",
            "We present 3D Gaussian Splatting (3DGS) that renders novel views in real time.",
            authors=("Ada Lovelace", "Bo Chen"),
            categories=("cs.CV",),
        ),
        paper(
            "g2",
            "Gaussian Splats for Dynamic Scenes",
            "Splatting of anisotropic Gaussians reconstructs dynamic scenes from video.",
            upvotes=41,
            categories=("cs.CV", "cs.GR"),
        ),
        paper(
            "s1",
            "Speculative Decoding with Draft Trees",
            "Speculative decoding accelerates large language model (LLM) inference with a "
            "small draft model whose tokens are verified in parallel.",
            categories=("cs.CL",),
        ),
        paper(
            "s2",
            "Speculative Decoding with Draft Trees",
            "Speculative decoding accelerates large language model (LLM) inference with a "
            "small draft model whose tokens are verified in parallel.",
            categories=("cs.CL",),
        ),
        paper(
            "a1",
            "LLM Agents that Learn Tool Use from Demonstrations",
            "Large language model agents call external tools; we study tool-use policies.",
            categories=("cs.AI",),
        ),
        paper(
            "p1",
            "Pre-training Vision Transformers at Scale",
            "We revisit pretraining recipes for vision transformers on billions of images.",
            categories=("cs.CV",),
        ),
        paper(
            "q1",
            "Quantum Error Correction with Surface Codes",
            "Surface codes protect logical qubits; we decode syndromes with belief propagation.",
            authors=("Geoffrey E. Hinton",),
            categories=("quant-ph",),
        ),
        paper(
            "m1",
            "Mechanism Design for Online Auctions",
            "We design truthful auctions with budget constraints and prove welfare bounds.",
            categories=("cs.GT",),
        ),
        paper("r1", "Robot Grasping from Tactile Feedback", "Tactile sensing improves grasps."),
        paper("t1", "Time Series Forecasting with State Space Models", "Long horizons."),
        paper("e1", "", ""),
        paper("x1", "Graph Neural Networks for Molecules", "Message passing on molecular graphs."),
    ]
