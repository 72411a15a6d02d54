"""Pieces: templates rendered once, with markers for the per-message values.

A digest goes to thousands of subscribers a day and most of each message is the same for
all of them. A `Piece` is a template (or a macro, with some arguments bound) rendered once
with unforgeable markers in place of its per-message values, then cut at the markers:
writing a message joins the static strings and the values, with no template engine at
work and no pass over the static text.

Rules for a template rendered as a piece:

- print a value as it is (`{{ reason }}`) or test it for being empty (`{% if reason %}`);
  each pattern of empty and non-empty values gets its own cut, made on first use. A filter
  would see the marker, not the value: a mangled marker stops the load, so shape values
  (wrapping, say) before filling them in;
- an insert (`{{ papers }}`) stands alone on its line; what other pieces wrote goes there
  (a piece always ends its last line, so that is whole lines).

Values are text as `one_line` leaves it (no control characters), or lines of it; line
breaks in an HTML value become spaces. Pieces write their part in its final transfer
encoding, lines ending in CRLF:

- HTML: values escaped (but those the caller gives `verbatim`, in final form), non-ASCII
  characters as numeric references (`é` → `&#233;`), so the part is 7-bit as it stands.
  Each run knows its longest static line, so a filled piece tells whether every line fits
  in the 998 octets of a mail line, and looks at its lines only when the values are long;
- plain text: quoted-printable, its static lines encoded once, when the piece is cut, and
  the lines that hold values encoded as they are filled in (remembered when they hold one).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import call, itemgetter

from jinja2 import TemplateError

from digest.render.mime import MAX_BODY_LINE, quoted_printable
from digest.render.text import ascii_html

# Markers carry a random number of this process, so no paper or topic text can fake one.
_NONCE = secrets.token_hex(8)
_MARKER = re.compile(f"\x1a{_NONCE}:(\\d+)\x1a")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_LF = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
_MEMO_LIMIT = 64  # encoded lines remembered per plain-text line of a piece


@dataclass(frozen=True, slots=True)
class _Run:
    """Static strings and the values between them, written as one stretch of text.

    In plain text, a run is one line that holds values, encoded once filled, and `before`
    the static lines up to it, encoded already.
    """

    statics: tuple[str, ...]
    pick: Callable[[tuple[str, ...]], tuple[str, ...]]  # (*values, *statics) → in order
    limit: int  # how long the run may be, statics and values, with every line still fitting
    before: str = ""
    single: int = -1  # the one value a plain-text line holds, if one: its lines are memoized
    memo: dict[str, str] = field(default_factory=dict)


_Segment = _Run | str | int  # a str is static text, an int the index of an insert


@dataclass(frozen=True, slots=True)
class _Cut:
    """The template cut for one pattern of empty and non-empty values."""

    segments: tuple[_Segment, ...]
    fits: bool  # every static line fits in a mail line


def html_value(value: str) -> str:
    """`value` escaped for HTML (as Jinja escapes), in ASCII, on one line."""
    value = (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&#34;")
        .replace("'", "&#39;")
    )
    if not value.isascii():
        value = ascii_html(value)
    if "\n" in value or "\r" in value or "\0" in value:  # would break the message's lines
        value = _CONTROL.sub(" ", value)
    return value


def text_value(value: str) -> str:
    """`value` for the plain-text part: its line breaks as CRLF."""
    if "\n" not in value and "\r" not in value and "\0" not in value:
        return value
    rest = value.replace("\r\n", "")
    if "\n" not in rest and "\r" not in rest and "\0" not in rest:
        return value
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL_BUT_LF.sub(" ", value).replace("\n", "\r\n")


def fit_lines(text: str) -> tuple[str, bool]:
    """(`text` with lines over 998 broken at a space, whether every line now fits).

    In HTML a line break is whitespace like a space, so breaking there changes nothing.
    """
    lines = text.split("\r\n")
    if max(map(len, lines)) <= MAX_BODY_LINE:
        return text, True
    folded: list[str] = []
    for line in lines:
        while len(line) > MAX_BODY_LINE:
            cut = line.rfind(" ", 0, MAX_BODY_LINE + 1)
            if cut <= 0:
                return text, False
            folded.append(line[:cut])
            line = line[cut + 1 :]
        folded.append(line)
    return "\r\n".join(folded), True


class Piece:
    """A template cut at its values; `write` appends a filled copy to a list of chunks.

    `render(**values)` renders the template; `names` are the values a message fills in,
    `inserts` the names of the places that take lists of chunks (whole lines), `verbatim`
    the names whose values the caller gives in their final form: for HTML escaped (see
    `html_value`), for plain text in lines ending in CRLF.
    """

    def __init__(
        self,
        render: Callable[..., str],
        names: Sequence[str],
        *,
        html: bool,
        inserts: Sequence[str] = (),
        verbatim: Sequence[str] = (),
    ) -> None:
        self._render = render
        self._names = tuple(names)
        self._inserts = tuple(inserts)
        self._html = html
        clean = html_value if html else text_value
        # `str` of a string is the string itself: the verbatim values pass as they are.
        cleaners = tuple(str if name in verbatim else clean for name in self._names)
        self._cleaners = None if set(cleaners) <= {str} else cleaners
        self._cuts: dict[tuple[bool, ...], _Cut] = {}
        self._full: _Cut | None = None  # every value given, no inserts

    def write(
        self, out: list[str], values: tuple[str, ...] = (), inserts: Sequence[list[str]] = ()
    ) -> bool:
        """Append the piece filled with `values` (and `inserts`) to `out`, in chunks.

        True when every line written is known to fit in a mail line; the lines of the
        inserts are the caller's to account for.
        """
        if inserts or not all(values):
            key = (*map(bool, values), *map(bool, inserts))
            cut = self._cuts.get(key) or self._cut(key)
        else:
            cut = self._full or self._cut((True,) * len(values))
        filled = values if self._cleaners is None else tuple(map(call, self._cleaners, values))
        fits = cut.fits
        for segment in cut.segments:
            if not isinstance(segment, _Run):
                if isinstance(segment, str):
                    out.append(segment)
                else:
                    out += inserts[segment]
            elif not self._html:
                out += (segment.before, _encoded_line(segment, filled))
            else:
                parts = segment.pick(filled + segment.statics)
                if sum(map(len, parts)) <= segment.limit:
                    out += parts
                else:
                    text, fitted = fit_lines("".join(parts))
                    out.append(text)
                    fits = fits and fitted
        return fits

    def _cut(self, key: tuple[bool, ...]) -> _Cut:
        """Render the template with markers for the non-empty values and cut it up."""
        count = len(self._names)
        arguments = {
            name: f"\x1a{_NONCE}:{index}\x1a" if key[index] else ""
            for index, name in enumerate((*self._names, *self._inserts))
        }
        output = self._render(**arguments).replace("\r\n", "\n")
        if output and not output.endswith("\n"):
            output += "\n"
        if self._html:
            output = ascii_html(output).replace("\n", "\r\n")
            output = fit_lines(output)[0].replace("\r\n", "\n")
        pieces = _MARKER.split(output)
        statics, indices = pieces[::2], [int(index) for index in pieces[1::2]]
        if any("\x1a" in static for static in statics):
            raise TemplateError("a piece's template changed a value's marker: print it as is")
        cut = _html_run if self._html else _text_runs
        segments: list[_Segment] = []
        run_statics, run_indices = [statics[0]], []
        for index, after in zip(indices, statics[1:], strict=True):
            if index < count:
                run_statics.append(after)
                run_indices.append(index)
                continue
            before = run_statics[-1]
            alone = before.endswith("\n") or (before == "" and not segments and not run_indices)
            if not alone or not after.startswith("\n"):
                name = self._inserts[index - count]
                raise TemplateError(f"the insert {name!r} must stand alone on its line")
            segments += [*cut(run_statics, run_indices, count), index - count]
            run_statics, run_indices = [after[1:]], []
        segments += cut(run_statics, run_indices, count)
        kept = tuple(segment for segment in segments if segment != "")
        static_fits = all(
            max(map(len, segment.split("\r\n"))) <= MAX_BODY_LINE
            for segment in kept
            if isinstance(segment, str)
        )
        self._cuts[key] = result = _Cut(kept, static_fits)
        if all(key) and len(key) == count:
            self._full = result
        return result


def _encoded_line(run: _Run, filled: tuple[str, ...]) -> str:
    """A plain-text run's line filled and encoded; remembered when it holds one value."""
    if run.single < 0:
        return quoted_printable("".join(run.pick(filled + run.statics)))
    value = filled[run.single]
    line = run.memo.get(value)
    if line is None:
        if len(run.memo) >= _MEMO_LIMIT:
            run.memo.clear()
        line = run.memo[value] = quoted_printable("".join(run.pick(filled + run.statics)))
    return line


def _run(statics: Sequence[str], indices: Sequence[int], count: int, before: str = "") -> _Run:
    """`statics[0] value[indices[0]] statics[1] …` of a piece with `count` values, in CRLF."""
    widest = max(map(len, "".join(statics).split("\n")))
    kept = tuple(static.replace("\n", "\r\n") for static in statics)
    order = [count]
    for position, index in enumerate(indices, start=1):
        order += [index, count + position]
    return _Run(
        statics=kept,
        pick=itemgetter(*order),
        limit=sum(map(len, kept)) + MAX_BODY_LINE - widest,
        before=before,
        single=indices[0] if len(set(indices)) == 1 else -1,
    )


def _html_run(statics: Sequence[str], indices: Sequence[int], count: int) -> list[_Segment]:
    if not indices:
        return ["".join(statics).replace("\n", "\r\n")]
    return [_run(statics, indices, count)]


def _text_runs(statics: Sequence[str], indices: Sequence[int], count: int) -> list[_Segment]:
    """The run cut into lines: static lines encoded now, lines with values once filled."""
    lines: list[tuple[list[str], list[int]]] = [([""], [])]
    for position, static in enumerate(statics):
        if position:
            lines[-1][1].append(indices[position - 1])
            lines[-1][0].append("")
        for number, text in enumerate(static.split("\n")):
            if number:
                lines[-1][0][-1] += "\n"
                lines.append(([""], []))
            lines[-1][0][-1] += text
    runs: list[_Segment] = []
    before = ""
    for line_statics, line_indices in lines:
        if line_indices:
            runs.append(_run(line_statics, line_indices, count, before))
            before = ""
        else:
            before += quoted_printable(line_statics[0].replace("\n", "\r\n"))
    return [*runs, before]
