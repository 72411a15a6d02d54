"""Shaping paper text for reading: one-line titles, short author lists, excerpts that end on
a sentence, light LaTeX clean-up, compact counts, and a fast 72-column word wrap.

Pure functions on strings; the HTML escaping is left to the templates (autoescape), and
`ascii_html` writes a rendered HTML part in ASCII.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

TEXT_WIDTH = 72
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029]")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[A-Z0-9\"'(\[$\\])")
_ABBREVIATIONS = ("e.g.", "i.e.", "et al.", "etc.", "vs.", "Fig.", "Eq.", "cf.", "approx.", "resp.")
_MATH = re.compile(r"\$([^$]{1,200})\$")
_LATEX_COMMAND = re.compile(r"\\([A-Za-z]+)")
_LATEX_WRAPPER = re.compile(
    r"\\(?:mathcal|mathbf|mathrm|mathbb|text|textbf|textit|emph|bm)\{([^{}]*)\}"
)
_SUPERSCRIPTS = str.maketrans("0123456789+-n", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻ⁿ")
_SUBSCRIPTS = str.maketrans("0123456789+-", "₀₁₂₃₄₅₆₇₈₉₊₋")
_SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε",
    "zeta": "ζ", "eta": "η", "theta": "θ", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν",
    "xi": "ξ", "pi": "π", "rho": "ρ", "sigma": "σ", "tau": "τ", "phi": "φ", "varphi": "φ",
    "chi": "χ", "psi": "ψ", "omega": "ω", "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ",
    "Lambda": "Λ", "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω", "infty": "∞",
    "times": "×", "cdot": "·", "leq": "≤", "le": "≤", "geq": "≥", "ge": "≥", "neq": "≠",
    "approx": "≈", "sim": "∼", "pm": "±", "to": "→", "rightarrow": "→", "leftarrow": "←",
    "in": "∈", "sum": "∑", "prod": "∏", "partial": "∂", "nabla": "∇", "sqrt": "√",
    "ell": "ℓ", "log": "log", "%": "%",
}  # fmt: skip


def ascii_html(html: str) -> str:
    """HTML with every non-ASCII character as a numeric reference (`·` → `&#183;`).

    The HTML of every message is kept in ASCII this way, so it goes out as 7-bit, readable,
    without a transfer encoding.
    """
    return html if html.isascii() else html.encode("ascii", "xmlcharrefreplace").decode("ascii")


def one_line(text: str) -> str:
    """`text` with control characters removed and all whitespace collapsed to single spaces."""
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text  # the common case, checked at C speed
    return " ".join(_CONTROL.sub(" ", text).split())


def _math_to_text(match: re.Match[str]) -> str:
    body = _LATEX_WRAPPER.sub(r"\1", match[1])
    body = _LATEX_COMMAND.sub(lambda m: _SYMBOLS.get(m[1], m[0]), body)
    body = re.sub(r"\^\{?([0-9+\-n]{1,4})\}?", lambda m: m[1].translate(_SUPERSCRIPTS), body)
    body = re.sub(r"_\{?([0-9+\-]{1,4})\}?", lambda m: m[1].translate(_SUBSCRIPTS), body)
    if "\\" in body or "{" in body:
        return match[0]  # too rich to flatten: leave the author's LaTeX as written
    return body.replace(" ", "") if len(body) < 12 else body


def plain_math(text: str) -> str:
    """Simple inline LaTeX (`$\\alpha$`, `$O(n^2)$`) as Unicode text; the rest left as is."""
    return _MATH.sub(_math_to_text, text) if "$" in text else text


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters at a word boundary, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:") + "…"


def _sentences(text: str) -> list[str]:
    parts = _SENTENCE_END.split(text)
    merged: list[str] = []
    for part in parts:
        if merged and merged[-1].endswith(_ABBREVIATIONS):
            merged[-1] += " " + part
        else:
            merged.append(part)
    return merged


def excerpt(abstract: str, *, sentences: int = 3, limit: int = 420) -> str:
    """The first sentences of an abstract (up to `sentences`, within `limit` characters).

    Cuts on a sentence boundary: takes as many whole sentences as fit, at least one; a first
    sentence longer than the limit is shortened at a word with an ellipsis.
    """
    text = plain_math(one_line(abstract))
    if not text:
        return ""
    chosen: list[str] = []
    length = 0
    for sentence in _sentences(text)[:sentences]:
        if chosen and length + 1 + len(sentence) > limit:
            break
        chosen.append(sentence)
        length += len(sentence) + 1
    return shorten(" ".join(chosen), limit)


def short_authors(authors: Sequence[str], *, show: int = 3) -> str:
    """`A, B, C et al.` past `show + 1` names; every name on one line and of sane length."""
    names = [shorten(one_line(name), 60) for name in authors[: show + 1]]
    names = [name for name in names if name]
    if len(authors) > show + 1:
        return ", ".join(names[:show]) + " et al."
    return ", ".join(names)


def compact_count(value: int) -> str:
    """`950`, `1.2k`, `15k`, `1.3M`: how a count reads at a glance."""
    if value < 1000:
        return str(value)
    if value < 10_000:
        return f"{value / 1000:.1f}".rstrip("0").rstrip(".") + "k"
    if value < 1_000_000:
        return f"{value // 1000}k"
    return f"{value / 1_000_000:.1f}".rstrip("0").rstrip(".") + "M"


@lru_cache(maxsize=16384)
def wrap(text: str, indent: str = "", first: str | None = None, width: int = TEXT_WIDTH) -> str:
    """Greedy word wrap to `width` columns; `first` (default `indent`) prefixes line one.

    URLs are never broken; other words longer than a line are cut into line-sized pieces.
    Cached: the same paper text is wrapped once for all the digests of a day.
    """
    lead = indent if first is None else first
    lines: list[str] = []
    line = lead
    fresh = True
    room = width - len(indent)
    for word in text.split():
        if len(word) > room and "://" not in word:
            pieces = [word[i : i + room] for i in range(0, len(word), room)]
        else:
            pieces = [word]
        for piece in pieces:
            if not fresh and len(line) + 1 + len(piece) > width:
                lines.append(line)
                line, fresh = indent, True
            line += piece if fresh else " " + piece
            fresh = False
    lines.append(line)
    return "\n".join(lines)
