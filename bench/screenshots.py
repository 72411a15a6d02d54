"""Screenshot a rendered digest in headless Chromium at phone and desktop widths.

    uv run python bench/screenshots.py [--out DIR] [--items N] [--dark] [--archive]

Ranks one day of the shared corpus (../shared/data) for a subscriber's topics with the
real ranker, renders the digest through the real `Renderer`, writes `digest.html`, and
saves `digest-375.png` and `digest-1280.png` (plus `-dark` variants with --dark) for
people to look at. Upvotes and code links are illustrative (the corpus has none).
With --archive it also delivers a weekly digest on a small running site (see
`_archive_site`) and saves its web page, `archive-375.png` and `archive-1280.png`.
Needs /usr/bin/chromium; without it the script stops with a message, or fails when
DIGEST_REQUIRE_TOOLS=1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Literal

from playwright.sync_api import Browser, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _archive_site import archive_site
from render import load_day, sample_settings

from digest.rank import build_index, rank_profiles
from digest.records import Digest, Profile, Subscriber
from digest.render import Renderer

WIDTHS = (375, 1280)
TOPICS = ("speculative decoding", "gaussian splatting", "LLM agents")


def ranked_digest(items: int) -> Digest:
    """A real digest: one corpus day ranked by the real ranker for a subscriber's topics."""
    papers = load_day()
    ranked = rank_profiles(build_index(papers), [Profile("1", TOPICS)], max_items=items)[0]
    trending = sorted(
        (p for p in papers if p.upvotes and p not in {pick.paper for pick in ranked}),
        key=lambda p: -(p.upvotes or 0),
    )[:3]
    subscriber = Subscriber(id=1, email="reader@example.org", status="active", topics=TOPICS)
    day = papers[0].published.date() if papers[0].published else date.today()
    return Digest(subscriber, day, tuple(ranked), tuple(trending))


def find_chromium() -> str | None:
    for candidate in (
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    parser.add_argument("--items", type=int, default=10)
    parser.add_argument("--dark", action="store_true", help="also shoot the dark colour scheme")
    parser.add_argument("--archive", action="store_true", help="also shoot a digest's web page")
    args = parser.parse_args()
    chromium = find_chromium()
    if chromium is None:
        message = "chromium not found at /usr/bin/chromium; install it (apt-get install chromium)"
        if os.environ.get("DIGEST_REQUIRE_TOOLS") == "1":
            sys.exit(f"error: {message}")
        print(f"skipped: {message}")
        return
    args.out.mkdir(parents=True, exist_ok=True)
    html = Renderer(sample_settings(args.out)).digest_html(ranked_digest(args.items))
    page_file = args.out / "digest.html"
    page_file.write_text(html, encoding="utf-8")
    schemes: tuple[Literal["light", "dark"], ...] = ("light", "dark") if args.dark else ("light",)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        for scheme in schemes:
            for width in WIDTHS:
                page = browser.new_page(
                    viewport={"width": width, "height": 800}, color_scheme=scheme
                )
                page.goto(page_file.resolve().as_uri())
                suffix = "" if scheme == "light" else "-dark"
                target = args.out / f"digest-{width}{suffix}.png"
                page.screenshot(path=str(target), full_page=True)
                page.close()
                print(f"{target}  ({width}px, {scheme})")
        if args.archive:
            shoot_archive(browser, args.out)
        browser.close()


def shoot_archive(browser: Browser, out: Path) -> None:
    """The web page of a delivered weekly digest, at both widths: its first screenful."""
    with tempfile.TemporaryDirectory() as directory, archive_site(Path(directory)) as url:
        for width in WIDTHS:
            height = 1100 if width > 800 else 812
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(url)
            target = out / f"archive-{width}.png"
            page.screenshot(path=str(target))
            page.close()
            print(f"{target}  ({width}px, web archive)")


if __name__ == "__main__":
    main()
