"""Sources: fetch papers from arXiv, Hugging Face Daily Papers and any RSS/Atom feed.

One module per source kind turns a response into `FeedEntry` records; none touches the
database. `fetch.fetch_source` runs one configured source; `http` holds the politeness
rules (timeouts, validators, back-off, the arXiv host throttle, the size cap).

kinds: `arxiv-rss` (arxiv_rss), `arxiv-api` (arxiv_api), `hf-daily` (hf_daily), `rss` (rss).
"""
