"""The Jinja2 environment of the email templates, with the CSS inlined once, at load time.

`templates/email/_styles.css` is written once. When an `.html` template loads, its source
goes through css-inline before Jinja compiles it, so each element carries its `style`
attribute in the compiled template and no message pays for the inlining. The
`@media` rules (phones, dark mode) stay in a `<style>` block in the layout's `<head>`.

Jinja tags are swapped for private-use placeholders while the HTML is parsed, then put
back; a tag the HTML parser would move (text between table rows, say) is caught here, at
load time, rather than producing a broken email.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import css_inline
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    select_autoescape,
)
from markupsafe import Markup, escape

from digest.render.text import wrap
from digest.resources import bundled_dir

_JINJA_TAG = re.compile(r"\{%.*?%\}|\{\{.*?\}\}|\{#.*?#\}", re.DOTALL)
_PLACEHOLDER = re.compile("\ue000(\\d+)\ue001")


def email_template_dir() -> Path:
    return bundled_dir("templates") / "email"


class InliningLoader(FileSystemLoader):
    """A file loader that inlines `_styles.css` into every `.html` template it loads."""

    def __init__(self, directory: Path) -> None:
        super().__init__(str(directory))
        css = (directory / "_styles.css").read_text(encoding="utf-8")
        self._document_inliner = css_inline.CSSInliner(
            extra_css=css, keep_at_rules=True, minify_css=True, load_remote_stylesheets=False
        )
        self._fragment_inliner = css_inline.CSSInliner(
            minify_css=True, load_remote_stylesheets=False
        )
        self._css = css

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        source, filename, uptodate = super().get_source(environment, template)
        if template.endswith(".html"):
            source = self.inline(source, template)
        return source, filename, uptodate

    def inline(self, source: str, name: str) -> str:
        """`source` with the CSS inlined and its Jinja tags untouched."""
        tags: list[str] = []

        def hide(match: re.Match[str]) -> str:
            tags.append(match[0])
            return f"\ue000{len(tags) - 1}\ue001"

        hidden = _JINJA_TAG.sub(hide, source)
        if "<html" in hidden.lower():
            inlined = self._document_inliner.inline(hidden)
        else:
            inlined = self._fragment_inliner.inline_fragment(hidden, self._css)
        order = [int(number) for number in _PLACEHOLDER.findall(inlined)]
        if order != list(range(len(tags))):
            raise TemplateError(
                f"{name}: the HTML parser moved or dropped Jinja tags; keep tags inside "
                "elements that hold text (td, p, div), not between table rows"
            )
        return _PLACEHOLDER.sub(lambda match: tags[int(match[1])], inlined)


def nl2br(value: str) -> Markup:
    """Escaped text with its line breaks kept as `<br>`."""
    lines = str(value).replace("\r\n", "\n").split("\n")
    return Markup("<br>").join(escape(line) for line in lines)


def wrap_filter(value: str, indent: int | str = "", first: str | None = None) -> str:
    """`{{ text | wrap(indent="   ") }}`: the text part's 72-column wrap."""
    prefix = " " * indent if isinstance(indent, int) else indent
    return wrap(str(value), prefix, first)


def build_environment(directory: Path | None = None) -> Environment:
    """The email environment: autoescape for `.html`, CSS inlined, strict about names."""
    environment = Environment(
        loader=InliningLoader(directory or email_template_dir()),
        autoescape=select_autoescape(["html"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,
        cache_size=-1,
    )
    environment.filters["nl2br"] = nl2br
    environment.filters["wrap"] = wrap_filter
    return environment
