"""Browsing the stored papers by day, for the public front page.

A paper's day is the day arXiv announced it, else the day Hugging Face featured it, else the
(UTC) day the store first saw it. `paper_days` lists the days that have papers, newest first;
`papers_on_day` lists one day's papers, most upvoted and then newest first.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, cast, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from digest.records import Paper
from digest.store.papers import to_paper
from digest.store.schema import PaperRow


def _day_of(session: Session) -> ColumnElement[date]:
    if session.get_bind().dialect.name == "sqlite":
        seen_day: ColumnElement[date] = func.date(PaperRow.first_seen_at, type_=Date)
    else:
        seen_day = cast(func.timezone("UTC", PaperRow.first_seen_at), Date)
    return func.coalesce(PaperRow.announced_on, PaperRow.featured_on, seen_day, type_=Date)


def paper_days(session: Session, *, limit: int = 90) -> list[date]:
    """The days that have papers, newest first (at most `limit`)."""
    day = _day_of(session).label("day")
    query = select(day).group_by(day).order_by(day.desc()).limit(limit)
    return [value for value in session.scalars(query) if value is not None]


def papers_on_day(
    session: Session, day: date, *, limit: int = 50, offset: int = 0
) -> tuple[list[Paper], int]:
    """One day's papers (a page of them) and how many that day has in all."""
    on_day = _day_of(session) == day
    total = session.scalar(select(func.count()).select_from(PaperRow).where(on_day)) or 0
    query = (
        select(PaperRow)
        .where(on_day)
        .order_by(
            func.coalesce(PaperRow.upvotes, -1).desc(),
            PaperRow.published_at.desc().nulls_last(),
            PaperRow.id.desc(),
        )
        .limit(limit)
        .offset(offset)
    )
    return [to_paper(row) for row in session.scalars(query)], int(total)
