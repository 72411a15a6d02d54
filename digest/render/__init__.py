"""Rendering: digests and account emails → HTML + plain text + headers → `OutgoingEmail`.

`Renderer` is the entry point; `links` builds the signed URLs and addresses; `views` shapes
records for the templates in `templates/email/`; `digests` writes a digest's parts from
`pieces`, templates rendered once and filled in per message; `mime` writes the message
bytes; `signing` adds DKIM.
"""

from digest.render.renderer import Renderer

__all__ = ["Renderer"]
