"""The one place that chains the stages: sources → store → rank → render → send.

`fetch_all` pulls the configured sources into the store; `deliver_due` delivers the digests
that are due. The scheduler, the CLI and the web pages call these; nothing else chains stages.
"""

from __future__ import annotations
