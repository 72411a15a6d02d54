"""Screenshot a rendered digest in headless Chromium at phone and desktop widths.

    uv run python bench/screenshots.py [--out DIR] [--items N] [--dark]

Renders a realistic digest from the shared corpus (../shared/data) through the real
`Renderer`, writes `digest.html`, and saves `digest-375.png` and `digest-1280.png` (plus
`-dark` variants with --dark) for people to look at. Needs /usr/bin/chromium; without it
the script stops with a message, or fails when DIGEST_REQUIRE_TOOLS=1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from render import sample_digest, sample_settings

from digest.render import Renderer

WIDTHS = (375, 1280)


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
    args = parser.parse_args()
    chromium = find_chromium()
    if chromium is None:
        message = "chromium not found at /usr/bin/chromium; install it (apt-get install chromium)"
        if os.environ.get("DIGEST_REQUIRE_TOOLS") == "1":
            sys.exit(f"error: {message}")
        print(f"skipped: {message}")
        return
    args.out.mkdir(parents=True, exist_ok=True)
    html = Renderer(sample_settings(args.out)).digest_html(sample_digest(args.items))
    page_file = args.out / "digest.html"
    page_file.write_text(html, encoding="utf-8")
    schemes = ("light", "dark") if args.dark else ("light",)
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
        browser.close()


if __name__ == "__main__":
    main()
