"""Benchmark: render + MIME assembly per digest, next to a stdlib `EmailMessage` build.

    uv run python bench/render.py [--digests N] [--items K] [--dkim]

Builds realistic digests from one listing day of the shared corpus (../shared/data), each
subscriber with their own picks, then times on one core:

- `Renderer.render_digest` (HTML + text from the Jinja2 templates, signed links, headers,
  MIME bytes from `render.mime`): digests/s;
- the same content assembled with the stdlib `EmailMessage` (set_content/add_alternative,
  as_bytes), the builder most projects use: messages/s, measured in the same run;
- with --dkim, also render + DKIM signing with dkimpy, RSA-2048 and Ed25519 keys.

Target: at least 1,000 digests/s for render + MIME assembly on one core of this machine,
measured in CPU time (other load on a shared machine slows it, so read the baseline too).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from datetime import time as clock
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from digest.config import Settings, load_settings
from digest.records import Digest, OutgoingEmail, Paper, Pick, Subscriber
from digest.render import Renderer

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "corpus" / "arxiv-daily-cs"
TOPICS = (
    "diffusion models", "large language model agents", "3D reconstruction",
    "reinforcement learning", "retrieval augmented generation", "speech recognition",
    "graph neural networks", "vision transformers", "medical imaging", "robotics",
)  # fmt: skip
TARGET = 1000


def load_day(limit: int = 600) -> list[Paper]:
    """The papers of the busiest listing day in the corpus (a real day's feed)."""
    rows = [json.loads(line) for line in (CORPUS / "papers.jsonl").open(encoding="utf-8")]
    days: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        days.setdefault(str(row["listing_date"]), []).append(row)
    busiest = max(days.values(), key=len)[:limit]
    rng = random.Random(7)
    return [_paper(index, row, rng) for index, row in enumerate(busiest)]


def _paper(index: int, row: dict[str, object], rng: random.Random) -> Paper:
    arxiv_id = str(row["id"])
    has_code, on_hf = rng.random() < 0.35, rng.random() < 0.25
    return Paper(
        id=arxiv_id,
        title=str(row["title"]),
        abstract=str(row["abstract"]),
        authors=tuple(row["authors"]),  # type: ignore[arg-type]
        categories=tuple(row["categories"]),  # type: ignore[arg-type]
        comment=row.get("comment") or None,  # type: ignore[arg-type]
        abs_url=f"https://arxiv.org/abs/{arxiv_id}",
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}",
        code_url=f"https://github.com/lab{index}/project" if has_code else None,
        stars=rng.randint(3, 9000) if has_code else None,
        hf_url=f"https://huggingface.co/papers/{arxiv_id}" if on_hf else None,
        upvotes=rng.randint(1, 120) if on_hf else None,
        db_id=index + 1,
    )


def make_digests(papers: list[Paper], count: int, items: int, seed: int = 1) -> list[Digest]:
    """`count` subscribers, each with their own topics and `items` picks from the day."""
    rng = random.Random(seed)
    trending = tuple(sorted(papers, key=lambda p: -(p.upvotes or 0))[:8])
    digests = []
    for number in range(count):
        topics = tuple(rng.sample(TOPICS, rng.randint(1, 4)))
        subscriber = Subscriber(
            id=number + 1, email=f"reader{number}@example.org", status="active",
            topics=topics, timezone="Europe/Berlin", send_at=clock(7, 0),
        )  # fmt: skip
        chosen = rng.sample(papers, items)
        picks = tuple(
            Pick(
                paper=paper,
                score=1.0 - rank / 100,
                reason=f'Matches "{topic}" in the title and abstract'
                + (f"; {paper.upvotes} upvotes on Hugging Face" if paper.upvotes else ""),
                topic=topic,
            )
            for rank, (paper, topic) in enumerate((paper, rng.choice(topics)) for paper in chosen)
        )
        digests.append(Digest(subscriber, date(2026, 5, 14), picks, trending))
    return digests


def sample_settings(data_dir: Path, **mail: object) -> Settings:
    return load_settings(
        service={"data_dir": str(data_dir)},
        web={"secret_key": "bench-secret", "base_url": "https://digest.example.org"},
        mail={
            "from_address": "digest@example.org",
            "footer_text": "Example Research Lab · 1 Example Street · 12345 Example Town",
            **mail,
        },
        sources=[],
    )


def sample_digest(items: int = 10) -> Digest:
    return make_digests(load_day(), 1, items)[0]


def stdlib_build(email: OutgoingEmail, text: str, html: str) -> bytes:
    """The same message assembled the usual way, with the stdlib's EmailMessage."""
    message = EmailMessage(policy=SMTP)
    for name, value in email.headers.items():
        message[name] = value
    message["From"] = "Paper Digest <digest@example.org>"
    message["List-Id"] = "Paper Digest <daily.example.org>"
    message.set_content(text, cte="quoted-printable")
    message.add_alternative(html, subtype="html", cte="quoted-printable")
    return message.as_bytes()


def rate(work: Callable[[int], object], count: int, rounds: int = 3) -> float:
    """Calls per CPU second, best of `rounds` (CPU time: other load on the box is not ours)."""
    best = 0.0
    for _ in range(rounds):
        start = time.process_time()
        for index in range(count):
            work(index)
        best = max(best, count / max(time.process_time() - start, 1e-9))
    return best


def render_rate(renderer: Renderer, digests: list[Digest], rounds: int = 3) -> float:
    return rate(lambda i: renderer.render_digest(digests[i]), len(digests), rounds)


def make_dkim_keys(directory: Path) -> dict[str, Path]:
    """An RSA-2048 and an Ed25519 key file (PEM), by the name of their algorithm."""
    keys: dict[str, Path] = {}
    made: list[tuple[str, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey]] = [
        ("RSA-2048", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        ("Ed25519", ed25519.Ed25519PrivateKey.generate()),
    ]
    for name, key in made:
        path = keys[name] = directory / f"{name}.pem"
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return keys


def main() -> None:
    parser = argparse.ArgumentParser(description="render + MIME assembly throughput")
    parser.add_argument("--digests", type=int, default=4000)
    parser.add_argument("--items", type=int, default=10)
    parser.add_argument("--dkim", action="store_true")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        sys.exit(f"shared corpus not found at {CORPUS}")
    papers = load_day()
    digests = make_digests(papers, args.digests, args.items)
    with tempfile.TemporaryDirectory() as tmp:
        renderer = Renderer(sample_settings(Path(tmp)))
        for digest in digests[:50]:  # warm the template and per-paper caches
            renderer.render_digest(digest)
        ours = rate(lambda i: renderer.render_digest(digests[i]), len(digests))
        sample = [renderer.render_digest(d) for d in digests[:500]]
        bodies = [(renderer.digest_text(d), renderer.digest_html(d)) for d in digests[:500]]
        html_kb = max(len(html.encode()) for _, html in bodies) / 1024
        stdlib = rate(lambda i: stdlib_build(sample[i % 500], *bodies[i % 500]), 1000)
        print(f"digests: {len(digests)} x {args.items} items; largest HTML part {html_kb:.1f} KB")
        print(f"render + MIME (Renderer.render_digest): {ours:8.0f} digests/s  (target {TARGET})")
        print(f"stdlib EmailMessage build alone       : {stdlib:8.0f} messages/s  (baseline)")
        print(f"speed-up over the stdlib builder      : {ours / stdlib:8.1f}x")
        for name, key in make_dkim_keys(Path(tmp)).items() if args.dkim else ():
            signed = Renderer(
                sample_settings(Path(tmp), dkim_selector="bench", dkim_key_file=str(key))
            )
            dkim = render_rate(signed, digests[:500], rounds=1)
            print(f"render + MIME + DKIM ({name + ')':<9}       : {dkim:8.0f} digests/s")
        print(f"target (one core, this machine)       : {'met' if ours >= TARGET else 'MISSED'}")


if __name__ == "__main__":
    main()
