"""The preferences page's "Learned from your votes" part, and forgetting the votes.

`learning_of` is what the page shows: the subscriber's 👍/👎 counts and, once the learned
model has taken over, the voted papers it now favours most and least (see
`digest.pipeline.learning`). `POST /preferences/{token}/votes/forget` deletes the
subscriber's votes — never their library or topics — and goes back to the page (303) with a
confirmation.
The link and the form's CSRF token are checked as for the page's other forms: a malformed
link answers 400, a stale one (erased, signed up anew) 410, a missing or bad CSRF token 403.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from digest.errors import ConfigError
from digest.pipeline.learning import Learning, what_was_learned
from digest.records import Subscriber
from digest.store.engine import transaction
from digest.store.feedback import forget_votes
from digest.store.signups import link_still_current
from digest.web.links import gone_page, open_form_link
from digest.web.views import Web, web_of

log = logging.getLogger("digest.web")

FORGOTTEN = "Your votes are forgotten: the next digest ranks as if you had never voted."


def learning_of(web: Web, sub: Subscriber) -> Learning:
    """The subscriber's votes and what the ranking learned from them (the counts alone
    when the sentence model's files cannot be read: that is logged, not shown)."""
    try:
        model_id: str | None = web.model.model_id
    except ConfigError as exc:
        log.error("the preferences page shows no learned model: %s", exc)
        model_id = None
    return what_was_learned(web.engine, sub, model_id, now=datetime.now(UTC))


def _forget(web: Web, sub: Subscriber) -> int | None:
    with transaction(web.engine) as session:
        if not link_still_current(session, sub.id, sub.link_secret):
            return None
        return forget_votes(session, sub.id)


async def forget(request: Request) -> Response:
    checked = await open_form_link(request, "preferences")
    if isinstance(checked, Response):
        return checked
    web = web_of(request)
    if await run_in_threadpool(_forget, web, checked[0].subscriber) is None:
        return gone_page(web, request)
    token = request.path_params["token"]
    return RedirectResponse(f"/preferences/{token}?done=forgotten", 303)


routes = [Route("/preferences/{token}/votes/forget", forget, methods=["POST"])]
