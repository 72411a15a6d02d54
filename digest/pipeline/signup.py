"""Sign-up: the double opt-in that starts every subscription made by its subscriber, and
the end of one.

`request_confirmation` stores the address as pending (store), keeps its topics' sentence
vectors (embed), and mails the confirmation link (render → send); the web form, `digest
subscribers add` and subscribing by email call it. `confirm_subscription` (the confirm
link's button) activates it and mails the welcome; `end_subscription` (the unsubscribe
link) ends it and, when asked, mails a goodbye. Welcome and goodbye are courtesies: one
that cannot be sent is logged, and the change stands.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from sqlalchemy import Engine

from digest.config import Settings
from digest.errors import TransportError, UsageError
from digest.pipeline.embed import remember_topics_quietly
from digest.rank.embed import SentenceModel
from digest.records import OutgoingEmail, Subscriber
from digest.render.renderer import Renderer
from digest.send.transport import Transport
from digest.store.engine import transaction
from digest.store.signups import (
    Signup,
    begin_signup,
    confirm_subscriber,
    undo_signup,
    unsubscribe,
)
from digest.store.subscribers import SubscriberInput

log = logging.getLogger("digest.web")


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


async def confirm_subscription(
    engine: Engine, transport: Transport, renderer: Renderer, subscriber: Subscriber
) -> tuple[str, Subscriber] | None:
    """Confirm the subscription a confirm link names (see `store.signups.confirm_subscriber`
    for the states); the first confirmation mails the welcome. None when the subscriber is
    gone (erased, or signed up anew since the link was checked)."""

    def confirm() -> tuple[str, Subscriber] | None:
        with transaction(engine) as session:
            return confirm_subscriber(session, subscriber.id, subscriber.link_secret)

    outcome = await asyncio.to_thread(confirm)
    if outcome is not None and outcome[0] == "confirmed":
        welcome = renderer.render_welcome(outcome[1])
        await _courtesy(transport, welcome, "welcome", outcome[1])
    return outcome


async def end_subscription(
    engine: Engine,
    transport: Transport,
    renderer: Renderer,
    subscriber: Subscriber,
    *,
    goodbye: bool = False,
) -> tuple[bool, Subscriber] | None:
    """Unsubscribe the subscriber an unsubscribe link names (idempotent: True only when this
    call ended it); with `goodbye`, a subscription ended now gets a goodbye email. None when
    the subscriber is gone."""

    def end() -> tuple[bool, Subscriber] | None:
        with transaction(engine) as session:
            return unsubscribe(session, subscriber.id, subscriber.link_secret)

    outcome = await asyncio.to_thread(end)
    if outcome is not None and outcome[0] and goodbye:
        farewell = renderer.render_goodbye(outcome[1])
        await _courtesy(transport, farewell, "goodbye", outcome[1])
    return outcome


async def _courtesy(
    transport: Transport, email: OutgoingEmail, kind: str, subscriber: Subscriber
) -> None:
    try:
        await transport.send(email)
    except TransportError as exc:  # the subscription's change stands; the email is a courtesy
        log.warning("could not send the %s email to subscriber %s: %s", kind, subscriber.id, exc)
