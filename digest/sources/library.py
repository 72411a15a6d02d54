"""Reading a subscriber's library: the papers they like, as they pasted or uploaded them.

`read_library` takes the bytes of a file or a paste and returns `LibraryReference`s (an
arXiv id, else a DOI, with the line it came from) and, by line, what could not be read.
It recognises, in this order:

- BibTeX (a line starting `@type{`): the `eprint` (with `archivePrefix` arXiv or none),
  `arxivid`, `doi` and `url` fields, and an `arXiv:` label in `journal`, `note` or
  `howpublished` (as Google Scholar writes it); read with bibtexparser;
- RIS (the first line is a `TY  - ` tag): `DO`, `UR` and arXiv labels in notes; read with
  rispy;
- a CSV export (Zotero's, or any CSV with a DOI, Url or arXiv column): the DOI, Url,
  Extra, Report Number, Archive ID and Publication Title columns;
- otherwise a plain list: arXiv ids (`2401.01234`, `hep-th/9901001`, with or without a
  version), arXiv links, `arXiv:` labels, DOIs or doi.org links, any number a line; lines
  starting with `#` are comments.

A file that cannot be a library at all (binary, too large, too many entries, nothing
readable in it) raises `LibraryError` with one message that says what to give instead.
"""

from __future__ import annotations

import csv
import io
import itertools
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import bibtexparser
import rispy

from digest.errors import UsageError
from digest.records import LibraryReference
from digest.sources.keys import normalise_doi, parse_arxiv_id

MAX_LIBRARY_BYTES = 2_000_000
MAX_REFERENCES = 1000
_SHOWN = 60  # characters of a subscriber's own text quoted in a message

_BIBTEX_ENTRY = re.compile(r"^\s*@\s*[A-Za-z]+\s*[{(]", re.MULTILINE)
_RIS_TAG = re.compile(r"^[A-Z][A-Z0-9]  -( |$)")
_TOKEN_SPLIT = re.compile(r"[\s,;<>\"'()\[\]{}]+")
_CSV_COLUMNS = (
    "doi",
    "url",
    "extra",
    "report number",
    "archive id",
    "arxiv",
    "arxiv id",
    "eprint",
    "publication title",
)
_BIBTEX_LABELLED = ("journal", "note", "howpublished", "url", "doi")
_CONTROL = set(range(0, 9)) | {11, 12} | set(range(14, 32))


class LibraryError(UsageError):
    """The input cannot be read as a library at all; the message says what to give."""


@dataclass
class LibraryFile:
    """What was read: the format, the references (one per paper, first mention kept) and
    the problems, each starting with its line number."""

    kind: str
    references: list[LibraryReference] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def read_library(data: bytes | str) -> LibraryFile:
    """The references in a pasted or uploaded library; LibraryError if it is not one."""
    text = _decoded(data)
    if _BIBTEX_ENTRY.search(text):
        result = _read_bibtex(text)
    elif _RIS_TAG.match(text.lstrip()):
        result = _read_ris(text)
    elif _is_csv(text):
        result = _read_csv(text)
    else:
        result = _read_list(text)
    result.references = _first_mentions(result.references)
    if len(result.references) > MAX_REFERENCES:
        raise LibraryError(
            f"this {result.kind} names {len(result.references)} papers; at most "
            f"{MAX_REFERENCES} can be added at once, so split it into smaller files"
        )
    if not result.references and not result.problems:
        raise LibraryError(
            "found no papers: give arXiv ids or links, DOIs, or a BibTeX, RIS or Zotero CSV export"
        )
    return result


def _decoded(data: bytes | str) -> str:
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if len(raw) > MAX_LIBRARY_BYTES:
        raise LibraryError(
            f"the file is {len(raw) / 1e6:.1f} MB; a library can be at most "
            f"{MAX_LIBRARY_BYTES / 1e6:g} MB, so split it into smaller files"
        )
    sample = raw[:8192]
    if b"\x00" in sample or sum(b in _CONTROL for b in sample) > len(sample) // 20:
        raise LibraryError(
            "this is not a text file; give arXiv ids or DOIs, or export your library as "
            "BibTeX (.bib), RIS (.ris) or CSV"
        )
    if isinstance(data, str):
        return data.lstrip("\ufeff")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _first_mentions(references: Iterable[LibraryReference]) -> list[LibraryReference]:
    seen: dict[str, LibraryReference] = {}
    for reference in references:
        seen.setdefault(reference.arxiv_id or f"doi:{reference.doi}", reference)
    return list(seen.values())


def _shown(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def _tokens(text: str) -> Iterator[str]:
    for token in _TOKEN_SPLIT.split(text):
        token = token.strip(".,;")
        if token:
            yield token


def find_arxiv_id(texts: Iterable[str], *, bare: bool) -> str | None:
    """The first arXiv id in `texts`; with `bare` False only a labelled one (`arXiv:`,
    an arxiv.org link or an arXiv DOI), so stray numbers are never taken for ids."""
    for text in texts:
        pieces = list(_tokens(text))
        # "arXiv: 2401.01234" (a label and the id apart) is one labelled id.
        joined = [f"{a}{b}" for a, b in itertools.pairwise(pieces) if a.endswith(":")]
        for token in [*pieces, *joined]:
            if not bare and "arxiv" not in token.lower():
                continue
            parsed = parse_arxiv_id(token)
            if parsed:
                return parsed[0]
    return None


def find_doi(texts: Iterable[str]) -> str | None:
    for text in texts:
        if "10." in text:
            doi = normalise_doi(text.replace("{", "").replace("}", ""))
            if doi:
                return doi
    return None


def _reference(line: int, given: str, arxiv_id: str | None, doi: str | None) -> LibraryReference:
    if doi:
        parsed = parse_arxiv_id(doi)  # an arXiv DOI is the arXiv paper
        arxiv_id = arxiv_id or (parsed[0] if parsed else None)
    return LibraryReference(line=line, given=_shown(given), arxiv_id=arxiv_id, doi=doi)


# --- BibTeX ---------------------------------------------------------------------------


def _read_bibtex(text: str) -> LibraryFile:
    # The parser logs each malformed block; they are reported here, by line, instead.
    logging.getLogger("bibtexparser").setLevel(logging.CRITICAL)
    # No middleware: values stay as written (braces and all), nothing is interpolated.
    library = bibtexparser.parse_string(text, parse_stack=[])
    result = LibraryFile("BibTeX file")
    for entry in library.entries:
        fields = {key.lower(): _unbraced(f.value) for key, f in entry.fields_dict.items()}
        line = (entry.start_line or 0) + 1
        prefix = fields.get("archiveprefix", fields.get("eprinttype", "arxiv")).lower()
        bare = [fields.get("arxivid", "")]
        if prefix == "arxiv":
            bare.append(fields.get("eprint", ""))
        arxiv_id = find_arxiv_id(bare, bare=True) or find_arxiv_id(
            (fields.get(name, "") for name in _BIBTEX_LABELLED), bare=False
        )
        doi = find_doi([fields.get("doi", ""), fields.get("url", "")])
        if arxiv_id or doi:
            result.references.append(_reference(line, f"@{entry.key}", arxiv_id, doi))
        else:
            result.problems.append(
                f"line {line}: entry '{_shown(entry.key)}' has no arXiv id, DOI or arXiv link"
            )
    for block in library.failed_blocks:
        line = (block.start_line or 0) + 1
        result.problems.append(
            f"line {line}: this BibTeX entry is malformed (unbalanced braces or quotes?) and "
            "was skipped"
        )
    if not library.entries and library.failed_blocks:
        raise LibraryError(
            "no BibTeX entry could be read: " + result.problems[0] + "; check the file, or "
            "export it again from your reference manager"
        )
    return result


def _unbraced(value: object) -> str:
    text = str(value).strip()
    while len(text) >= 2 and (text[0], text[-1]) in (("{", "}"), ('"', '"')):
        text = text[1:-1].strip()
    return text


# --- RIS ------------------------------------------------------------------------------


def _read_ris(text: str) -> LibraryFile:
    try:
        records = rispy.loads(text)
    except Exception:  # rispy raises several kinds for broken files; all mean the same here
        records = None
    starts = [n for n, line in enumerate(text.splitlines(), 1) if line.startswith("TY  -")]
    if not records:
        raise LibraryError(
            "no RIS record could be read: each record starts with a 'TY  - ' line and ends "
            "with an 'ER  - ' line; export the library again"
        )
    result = LibraryFile("RIS file")
    for number, record in enumerate(records):
        line = starts[number] if len(starts) == len(records) else number + 1
        where = f"line {line}" if len(starts) == len(records) else f"record {number + 1}"
        values = [str(v) for value in record.values() for v in _as_list(value)]
        urls = [str(u) for u in _as_list(record.get("urls", ()))]
        arxiv_id = find_arxiv_id(values, bare=False)
        doi = find_doi([str(record.get("doi", "")), *urls])
        title = str(record.get("title") or record.get("primary_title") or where)
        if arxiv_id or doi:
            result.references.append(_reference(line, title, arxiv_id, doi))
        else:
            result.problems.append(f"{where}: '{_shown(title)}' has no arXiv id, DOI or arXiv link")
    return result


def _as_list(value: object) -> list[object]:
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, dict):
        return [v for values in value.values() for v in _as_list(values)]
    return [value]


# --- CSV ------------------------------------------------------------------------------


def _is_csv(text: str) -> bool:
    first = text.lstrip().partition("\n")[0]
    if "," not in first:
        return False
    header = next(csv.reader([first]), [])
    return any(cell.strip().lower() in _CSV_COLUMNS for cell in header)


def _read_csv(text: str) -> LibraryFile:
    reader = csv.DictReader(io.StringIO(text.lstrip()))
    columns = {name.strip().lower(): name for name in reader.fieldnames or ()}
    wanted = [columns[name] for name in _CSV_COLUMNS if name in columns]
    title_column = columns.get("title")
    result = LibraryFile("CSV file")
    line = 2
    try:
        for row in reader:
            values = [row.get(name) or "" for name in wanted]
            arxiv_id = find_arxiv_id(values, bare=False) or find_arxiv_id(
                [row.get(columns.get("arxiv id", columns.get("arxiv", "")), "") or ""],
                bare=True,
            )
            doi = find_doi([row.get(columns.get("doi", ""), "") or "", *values])
            title = (row.get(title_column) if title_column else None) or f"row at line {line}"
            if arxiv_id or doi:
                result.references.append(_reference(line, str(title), arxiv_id, doi))
            else:
                result.problems.append(
                    f"line {line}: '{_shown(str(title))}' has no arXiv id, DOI or arXiv link"
                )
            line = reader.line_num + 1
    except csv.Error as exc:
        raise LibraryError(f"line {reader.line_num}: this CSV file is malformed ({exc})") from None
    return result


# --- plain list -----------------------------------------------------------------------


def _read_list(text: str) -> LibraryFile:
    result = LibraryFile("list")
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        found = False
        for token in _tokens(stripped):
            parsed = parse_arxiv_id(token)
            doi = None if parsed else normalise_doi(token) if token.count("/") else None
            if parsed or doi:
                result.references.append(
                    _reference(number, token, parsed[0] if parsed else None, doi)
                )
                found = True
        if not found:
            result.problems.append(
                f"line {number}: found no arXiv id, arXiv link or DOI in '{_shown(stripped)}'"
            )
    return result
