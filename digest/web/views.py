"""Rendering the web pages: the Jinja2 environment over `templates/web/` and the shared
state every route handler reaches through `request.app.state.web`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import jinja2
from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import HTMLResponse

from digest.config import Settings
from digest.rank.embed import SentenceModel
from digest.render.links import LinkMaker
from digest.render.renderer import Renderer
from digest.resources import bundled_dir
from digest.send.transport import Transport
from digest.web.csrf import Csrf
from digest.web.guard import RateLimiter, WebLimits


def template_dir() -> Any:
    return bundled_dir("templates") / "web"


def _excerpt(text: str, length: int = 320) -> str:
    text = " ".join(text.split())
    if len(text) <= length:
        return text
    return text[:length].rsplit(" ", 1)[0].rstrip(",.;:") + "…"


def _authors(names: tuple[str, ...] | list[str], shown: int = 6) -> str:
    if len(names) <= shown:
        return ", ".join(names)
    return ", ".join(names[:shown]) + f" and {len(names) - shown} more"


def _safe_url(url: str | None) -> str | None:
    """Only http(s) links from stored papers reach a page (never `javascript:`)."""
    if url and url.lower().startswith(("https://", "http://")):
        return url
    return None


def _long_date(value: date | datetime) -> str:
    return f"{value:%A} {value.day} {value:%B %Y}"


def make_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir()),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["excerpt"] = _excerpt
    env.filters["authors"] = _authors
    env.filters["long_date"] = _long_date
    env.filters["safe_url"] = _safe_url
    return env


@dataclass
class Web:
    """What the route handlers share: configuration, database, mail and the page renderer."""

    settings: Settings
    engine: Engine
    transport: Transport
    limits: WebLimits
    limiter: RateLimiter
    csrf: Csrf
    links: LinkMaker
    secret: str
    env: jinja2.Environment
    model: SentenceModel
    _renderer: Renderer | None = None

    def renderer(self) -> Renderer:
        """The email renderer, built on first use (it compiles templates and inlines CSS)."""
        if self._renderer is None:
            self._renderer = Renderer(self.settings)
        return self._renderer

    def page(
        self,
        request: Request,
        template: str,
        status_code: int = 200,
        *,
        no_store: bool = False,
        **context: Any,
    ) -> HTMLResponse:
        """Render `template` with the common context; sets the CSRF cookie if new."""
        html = self.env.get_template(template).render(
            site_name=self.settings.mail.from_name,
            csrf_token=self.csrf.form_token(request),
            **context,
        )
        response = HTMLResponse(html, status_code=status_code)
        if no_store:
            response.headers["cache-control"] = "no-store"
        self.csrf.attach(request, response)
        return response

    def message(
        self,
        request: Request,
        title: str,
        text: str,
        status_code: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        """A simple page: a heading and a paragraph (errors, confirmations)."""
        return self.page(
            request, "message.html", status_code, title=title, text=text, no_store=True, **context
        )


def web_of(request: Request) -> Web:
    web: Web = request.app.state.web
    return web
