"""Template loading: CSS inlined once at load, Jinja tags kept intact, accessible markup."""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2 import TemplateError

from digest.render import Renderer
from digest.render.templates import build_environment, email_template_dir
from tests.render.conftest import make_digest


def test_every_email_is_an_html_and_text_pair() -> None:
    names = {path.name for path in email_template_dir().iterdir()}
    for email in ("digest", "confirm", "welcome", "goodbye"):
        assert f"{email}.html" in names
        assert f"{email}.txt" in names


def test_css_is_inlined_into_the_compiled_templates() -> None:
    environment = build_environment()
    source, _, _ = environment.loader.get_source(environment, "_paper.html")  # type: ignore[union-attr]
    assert 'class="title" dir="auto" style="' in source
    assert "{% macro shown(p) %}" in source  # Jinja tags survive the HTML parser


def test_media_queries_stay_in_the_head_for_dark_mode_and_phones(renderer: Renderer) -> None:
    html = renderer.digest_html(make_digest())
    head = html.split("</head>")[0]
    assert "@media (prefers-color-scheme: dark)" in head
    assert "@media (max-width: 620px)" in head
    assert '<meta name="color-scheme" content="light dark">' in head


def test_layout_tables_are_presentational_and_language_is_set(renderer: Renderer) -> None:
    html = renderer.digest_html(make_digest())
    assert '<html lang="en"' in html
    assert html.count("<table") == html.count('role="presentation"')


def test_a_tag_the_html_parser_would_move_fails_at_load_time(tmp_path: Path) -> None:
    (tmp_path / "_styles.css").write_text("p { margin: 0; }")
    (tmp_path / "bad.html").write_text(
        "<table>{% for row in rows %}<tr><td>{{ row }}</td></tr>{% endfor %}</table>"
    )
    with pytest.raises(TemplateError, match="moved or dropped Jinja tags"):
        build_environment(tmp_path).get_template("bad.html")
