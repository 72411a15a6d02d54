"""Reading library files and pastes: every format, ids old and new, and lines that are not."""

from __future__ import annotations

import pytest

from digest.records import LibraryReference
from digest.sources.library import LibraryError, read_library


def ids(refs: list[LibraryReference]) -> list[tuple[int, str | None, str | None]]:
    return [(r.line, r.arxiv_id, r.doi) for r in refs]


def test_a_pasted_list_of_ids_links_and_dois() -> None:
    library = read_library(
        "1706.03762\n"
        "https://arxiv.org/abs/hep-th/9901001v2, arXiv:1810.04805v2\n"
        "doi:10.1145/3065386  https://doi.org/10.48550/arXiv.2401.01234\n"
        "Attention is all you need\n"
        "# a comment\n"
        "https://arxiv.org/pdf/2401.01234v3.pdf\n"  # the same paper again
        "hep-th/9711200\n"
    )
    assert library.kind == "list"
    assert ids(library.references) == [
        (1, "1706.03762", None),
        (2, "hep-th/9901001", None),
        (2, "1810.04805", None),
        (3, None, "10.1145/3065386"),
        (3, "2401.01234", None),
        (7, "hep-th/9711200", None),
    ]
    assert library.problems == [
        "line 4: found no arXiv id, arXiv link or DOI in 'Attention is all you need'"
    ]


def test_bibtex_fields_as_reference_managers_write_them() -> None:
    library = read_library(
        b"@article{scholar, title={Attention Is All You Need},\n"
        b"  journal={arXiv preprint arXiv:1706.03762}, year={2017}}\n"
        b"@misc{zotero, eprint = {hep-th/9711200}, archivePrefix = {arXiv}}\n"
        b"@misc{biblatex, eprinttype = {arxiv}, eprint = {2401.01234v2}}\n"
        b"@misc{mendeley, arxivId = {1810.04805}}\n"
        b'@article{journal, doi = "10.1038/NATURE14539"}\n'
        b"@misc{other, eprint = {2020.01.01.123456}, archivePrefix = {bioRxiv},\n"
        b"  url = {https://doi.org/10.1101/2020.01.01.123456v2}}\n"
    )
    assert library.kind == "BibTeX file"
    assert ids(library.references) == [
        (1, "1706.03762", None),
        (3, "hep-th/9711200", None),
        (4, "2401.01234", None),
        (5, "1810.04805", None),
        (6, None, "10.1038/nature14539"),
        (7, None, "10.1101/2020.01.01.123456"),
    ]
    assert library.problems == []


def test_a_malformed_bibtex_entry_is_reported_by_line_and_the_rest_kept() -> None:
    library = read_library(
        "@article{good, eprint={2401.01234}}\n\n@article{bad, title={Unclosed\n"
        "@article{fine, doi={10.1145/3065386}}\n"
    )
    assert ids(library.references) == [(1, "2401.01234", None), (4, None, "10.1145/3065386")]
    assert library.problems == [
        "line 3: this BibTeX entry is malformed (unbalanced braces or quotes?) and was skipped"
    ]


def test_ris_records_by_line() -> None:
    library = read_library(
        "TY  - JOUR\nTI  - One\nDO  - 10.48550/arXiv.2401.01234\nER  - \n\n"
        "TY  - CONF\nTI  - Two\nUR  - https://arxiv.org/abs/1706.03762v7\nER  - \n\n"
        "TY  - BOOK\nTI  - Three\nER  - \n"
    )
    assert library.kind == "RIS file"
    assert ids(library.references) == [
        (1, "2401.01234", "10.48550/arxiv.2401.01234"),
        (6, "1706.03762", None),
    ]
    assert library.problems == ["line 11: 'Three' has no arXiv id, DOI or arXiv link"]


def test_a_zotero_csv_does_not_take_numbers_for_ids() -> None:
    library = read_library(
        '"Key","Item Type","Title","Pages","DOI","Url","Extra","Abstract Note"\n'
        '"A","preprint","One","","","","arXiv:2401.01234 [cs]","We improve on 1706.03762."\n'
        '"B","journalArticle","Two","1234.5678","","","",""\n'
    )
    assert library.kind == "CSV file"
    assert ids(library.references) == [(2, "2401.01234", None)]
    assert library.problems == ["line 3: 'Two' has no arXiv id, DOI or arXiv link"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00" * 100, "not a text file"),
        (b"x" * 2_000_001, "at most 2 MB"),
        (b"TY  - JOUR\nTI  - no end\n", "no RIS record could be read"),
        (b"", "found no papers"),
        (b"@article{x, title={" + b"{" * 100_000, "no BibTeX entry could be read"),
    ],
)
def test_what_is_no_library_is_refused_with_one_message(data: bytes, message: str) -> None:
    with pytest.raises(LibraryError, match=message):
        read_library(data)
