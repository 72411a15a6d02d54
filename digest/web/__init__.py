"""The subscriber pages: front page and sign-up, confirm, unsubscribe, preferences, feedback.

`create_app(settings, engine, transport)` builds the ASGI app that `digest serve` runs.
"""

from digest.web.app import create_app

__all__ = ["create_app"]
