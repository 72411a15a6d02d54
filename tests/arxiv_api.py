"""A real HTTP server on 127.0.0.1 that answers arXiv API `id_list` queries from recorded
responses.

It holds the entries of recorded real API answers (`../shared/data/raw/arxiv_api_*.xml`),
each kept byte for byte, and answers `GET /api/query?id_list=a,b,…` with the recorded feed
head and the recorded entries of the ids asked for, in the order asked; an id it has no
recording of gets no entry, as the API answers for an id it does not know. Every request
is remembered with its query parameters.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

_ENTRY = re.compile(r"\s*<entry>.*?</entry>", re.DOTALL)
_ID = re.compile(r"<id>https?://arxiv\.org/abs/(.+?)(?:v\d+)?</id>")
_TOTAL = re.compile(r"<opensearch:totalResults>\d+</opensearch:totalResults>")


@dataclass
class ArxivApi:
    """The server's state: the recorded entries by arXiv id and the requests seen."""

    head: str = ""
    entries: dict[str, str] = field(default_factory=dict)
    requests: list[dict[str, list[str]]] = field(default_factory=list)
    url: str = ""

    def load(self, recording: Path) -> None:
        text = recording.read_text(encoding="utf-8")
        first = _ENTRY.search(text)
        assert first, f"no entries in {recording}"
        self.head = self.head or text[: first.start()]
        for match in _ENTRY.finditer(text):
            found = _ID.search(match[0])
            assert found, "a recorded entry without an arXiv id"
            self.entries[found[1]] = match[0]

    def answer(self, query: str) -> bytes:
        params = parse_qs(query)
        self.requests.append(params)
        ids = [i for value in params.get("id_list", []) for i in value.split(",") if i]
        chosen = [self.entries[i] for i in ids if i in self.entries]
        head = _TOTAL.sub(
            f"<opensearch:totalResults>{len(chosen)}</opensearch:totalResults>", self.head
        )
        return (head.rstrip() + "".join(chosen) + "\n</feed>\n").encode("utf-8")

    @property
    def asked(self) -> list[list[str]]:
        """The ids of each request, in order."""
        return [[i for v in r.get("id_list", []) for i in v.split(",")] for r in self.requests]


@contextmanager
def serve_arxiv_api(*recordings: Path) -> Iterator[ArxivApi]:
    """An arXiv API on 127.0.0.1 answering from `recordings`, shut down afterwards."""
    api = ArxivApi()
    for recording in recordings:
        api.load(recording)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != "/api/query":
                self.send_error(404)
                return
            body = api.answer(parts.query)
            self.send_response(200)
            self.send_header("Content-Type", "application/atom+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    api.url = f"http://127.0.0.1:{server.server_address[1]}/api/query"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
