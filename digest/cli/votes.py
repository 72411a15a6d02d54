"""`digest subscribers votes EMAIL [--reset]`: a subscriber's 👍/👎 and what the ranking
learned from them, or forget them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from digest.cli.app import App, format_option, pass_app
from digest.cli.subscribers import subscribers

if TYPE_CHECKING:
    from digest.pipeline.learning import Learning
    from digest.records import Paper


@subscribers.command()
@click.argument("email")
@click.option(
    "--reset",
    is_flag=True,
    help="Forget the subscriber's votes (their library and topics stay).",
)
@format_option("json")
@pass_app
def votes(app: App, email: str, reset: bool, fmt: str) -> None:
    """Show how many papers the subscriber voted 👍 and 👎 on and what the ranking learned
    from the votes: once there are enough (with sentence vectors), the voted papers it now
    favours most ("more like") and least ("less like"); before that, votes act as "more
    like this" and "fewer like this". --reset forgets the votes: the next digest ranks as
    if none had been cast.

    \b
    Exit codes: 0 done; 2 no such subscriber, or the sentence model's files are missing.

    \b
    Example:
      digest subscribers votes ada@example.org
      digest subscribers votes ada@example.org --format json
      digest subscribers votes ada@example.org --reset
    """
    from digest.pipeline.learning import what_was_learned
    from digest.store.engine import transaction
    from digest.store.feedback import forget_votes
    from digest.store.subscribers import get_subscriber

    with transaction(app.engine()) as session:
        sub = get_subscriber(session, email)
        forgotten = forget_votes(session, sub.id) if reset else None
    if forgotten is not None:
        if fmt == "json":
            click.echo(json.dumps({"email": sub.email, "forgotten": forgotten}))
        else:
            app.say(f"Forgot {_count(forgotten)} of {sub.email}; their library and topics stay.")
        return
    model_id = app.checked_model().model_id
    learning = what_was_learned(app.engine(), sub, model_id, now=datetime.now(UTC))
    if fmt == "json":
        click.echo(json.dumps(_as_json(sub.email, learning), ensure_ascii=False, indent=2))
        return
    app.say(f"{sub.email}: {_count(learning.votes)} ({learning.liked} 👍, {learning.disliked} 👎)")
    for line in _lines(learning):
        app.say(line)


def _count(votes: int) -> str:
    return f"{votes} vote{'' if votes == 1 else 's'}"


def _lines(learning: Learning) -> list[str]:
    if learning.summary is not None:
        lines = [f"Learned from {_count(learning.summary.votes)}; the model ranks the digest."]
        for label, papers in (
            ("More like", learning.summary.more_like),
            ("Less like", learning.summary.less_like),
        ):
            lines += [f"{label}:"] + [f"  {p.title} ({p.id})" for p in papers]
        return lines
    more_or_fewer = 'they act as "more like this" and "fewer like this"'
    if learning.state == "no-topics":
        return [f"Without topics, {more_or_fewer}."]
    if learning.state == "few":
        return [f"The model takes over at {learning.min_votes} votes; until then {more_or_fewer}."]
    return [
        f"The model takes over once {learning.min_votes} of the voted papers have sentence "
        f"vectors ({learning.readable} so far; `digest db embed` computes the missing ones); "
        f"until then {more_or_fewer}."
    ]


def _paper(paper: Paper) -> dict[str, Any]:
    return {"id": paper.id, "title": paper.title, "url": paper.abs_url}


def _as_json(email: str, learning: Learning) -> dict[str, Any]:
    summary = learning.summary
    return {
        "email": email,
        "liked": learning.liked,
        "disliked": learning.disliked,
        "votes": learning.votes,
        "learned": summary is not None,
        "state": learning.state,
        "min_votes": learning.min_votes,
        "more_like": [_paper(p) for p in summary.more_like] if summary else [],
        "less_like": [_paper(p) for p in summary.less_like] if summary else [],
    }
