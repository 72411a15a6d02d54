"""Builders for delivery tests: a day's papers and some subscribers in a real database."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from digest.config import Settings, load_settings
from digest.records import FeedEntry
from digest.store.engine import transaction
from digest.store.papers import ingest_entries
from digest.store.subscribers import SubscriberInput, upsert_subscriber

TOPICS = [
    ("speculative decoding", "Faster speculative decoding for large language models"),
    ("gaussian splatting", "Real-time gaussian splatting for dynamic scenes"),
    ("protein folding", "Protein folding with diffusion models"),
    ("reinforcement learning", "Offline reinforcement learning with conservative critics"),
]


def add_papers(engine: Engine, now: datetime, per_topic: int = 3) -> None:
    entries = [
        FeedEntry(
            source="test",
            key=f"2607.{t:02d}{n:03d}",
            title=f"{title}, part {n + 1}",
            abstract=f"We study {topic}. {title}. Our method improves {topic} results by {n}%.",
            authors=("A. Author",),
            categories=("cs.LG",),
            arxiv_id=f"2607.{t:02d}{n:03d}",
            abs_url=f"https://arxiv.org/abs/2607.{t:02d}{n:03d}",
            published=now,
        )
        for t, (topic, title) in enumerate(TOPICS)
        for n in range(per_topic)
    ]
    with transaction(engine) as session:
        ingest_entries(session, entries, now=now)


def add_subscribers(
    engine: Engine,
    count: int,
    *,
    now: datetime,
    topic: str = "speculative decoding",
    timezone: str = "UTC",
    send_at: str = "07:00",
    prefix: str = "reader",
    feed_only: bool = False,
) -> list[str]:
    emails = [f"{prefix}{n}@example.org" for n in range(count)]
    with transaction(engine) as session:
        for email in emails:
            upsert_subscriber(
                session,
                SubscriberInput(
                    email=email,
                    topics=(topic,),
                    timezone=timezone,
                    send_at=send_at,
                    status="active",
                    feed_only=feed_only,
                ).validate(),
                default_timezone="UTC",
                default_send_at="07:00",
                now=now,
            )
    return emails


def smtp_settings(base: Settings, host: str, port: int, **smtp: object) -> Settings:
    data = base.model_dump(exclude={"config_file"})
    data["smtp"] = {"host": host, "port": port, "security": "none", "timeout": 2.0} | smtp
    return load_settings(**data)


def write_config(
    tmp_path: Path,
    engine: Engine,
    host: str,
    port: int,
    *,
    timeout: float,
    max_connections: int = 4,
) -> Path:
    """A config file for a `digest` subprocess: this test's database and SMTP server."""
    path = tmp_path / "digest.toml"
    url = engine.url.render_as_string(hide_password=False)
    path.write_text(
        f'[service]\ndata_dir = "{tmp_path / "data"}"\n'
        f'[database]\nurl = "{url}"\n'
        '[web]\nsecret_key = "subprocess-test-key"\n'
        '[mail]\nfrom_address = "digest@example.org"\n'
        f'[smtp]\nhost = "{host}"\nport = {port}\nsecurity = "none"\n'
        f"timeout = {timeout}\nmax_connections = {max_connections}\n"
    )
    return path
