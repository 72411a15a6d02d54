"""Sign-up: the double opt-in that starts every subscription made by its subscriber.

`request_confirmation` stores the address as pending (store), keeps its topics' sentence
vectors (embed), and mails the confirmation link (render → send). The web form,
`digest subscribers add` and subscribing by email call it; confirming is the link's page.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import Engine

from digest.config import Settings
from digest.errors import UsageError
from digest.pipeline.embed import remember_topics_quietly
from digest.rank.embed import SentenceModel
from digest.render.renderer import Renderer
from digest.send.transport import Transport
from digest.store.engine import transaction
from digest.store.signups import Signup, begin_signup, undo_signup
from digest.store.subscribers import SubscriberInput


async def request_confirmation(
    settings: Settings,
    engine: Engine,
    transport: Transport,
    data: SubscriberInput,
    *,
    ip: str | None = None,
    renderer: Renderer | None = None,
    model: SentenceModel | None = None,
) -> str:
    """Start the double opt-in: store the address as pending (with a `model`, its topics'
    sentence vectors too) and mail a confirmation link.

    Used by the web form, `digest subscribers add` and subscribing by email. Returns what
    happened: "sent", "active" (already subscribed: nothing changes, nothing is sent),
    "throttled" (three confirmations already went to this address in the last day) or
    "suppressed" (the address bounced or complained). Callers must not show the difference
    to the public. When the email cannot be sent, the sign-up is taken back and the
    TransportError raised, so nothing is left half-way.
    """

    data = data.validate()
    now = datetime.now(UTC)

    def begin() -> Signup:
        with transaction(engine) as session:
            return begin_signup(
                session,
                data,
                default_timezone=settings.digest.default_timezone,
                default_send_at=settings.digest.default_send_at,
                ip=ip,
                now=now,
            )

    def undo(signup: Signup) -> None:
        with transaction(engine) as session:
            undo_signup(session, signup, sent_at=now)

    signup = await asyncio.to_thread(begin)
    if signup.action != "send" or signup.subscriber is None:
        return signup.action
    if model is not None:
        await asyncio.to_thread(remember_topics_quietly, engine, model, data.topics)
    try:
        email = (renderer or Renderer(settings)).render_confirmation(signup.subscriber, now=now)
        await transport.send(email)
    except UnicodeEncodeError:
        await asyncio.to_thread(undo, signup)
        raise UsageError(
            f"{data.email} has non-ASCII letters before the @, which the mail transport "
            "cannot send to; use an ASCII address"
        ) from None
    except BaseException:
        await asyncio.to_thread(undo, signup)
        raise
    return "sent"
