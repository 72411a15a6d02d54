"""Rendering: digests and account emails → HTML + plain text + headers → `OutgoingEmail`.

`Renderer` is the entry point; `links` builds the signed URLs and addresses; `views` shapes
records for the templates in `templates/email/`, which `templates` loads (CSS inlined once);
`mime` makes the message; `signing` adds DKIM (dkimpy).
"""

from digest.render.renderer import Renderer

__all__ = ["Renderer"]
