"""The systemd notification protocol (`sd_notify`), without libsystemd.

`Notifier.from_environment()` reads `$NOTIFY_SOCKET` (a path, or `@name` for an abstract
socket) and `$WATCHDOG_USEC`/`$WATCHDOG_PID`; outside systemd both are unset and every
call is a cheap no-op, so the service can notify unconditionally:

    notifier = Notifier.from_environment()
    notifier.ready("web on :8000, 12 active subscribers")
    notifier.status("next fetch arxiv-ai at 20:30 EDT")
    notifier.watchdog()          # at least every notifier.watchdog_interval seconds
    notifier.stopping()

A failed send is logged once and otherwise ignored: losing contact with the service
manager must never take the service down.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


def socket_address(raw: str) -> str | None:
    """The address to send to for a `$NOTIFY_SOCKET` value; None if unusable.

    `@name` means the Linux abstract namespace, spelled with a leading NUL byte.
    """
    if raw.startswith("@"):
        return "\0" + raw[1:]
    if raw.startswith("/"):
        return raw
    return None


def watchdog_seconds(environ: Mapping[str, str], pid: int) -> float | None:
    """The watchdog interval systemd asked for, if it is meant for this process."""
    usec = environ.get("WATCHDOG_USEC", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    owner = environ.get("WATCHDOG_PID", "")
    if owner and owner.isdigit() and int(owner) != pid:
        return None
    return int(usec) / 1_000_000


class Notifier:
    """Sends state lines to the service manager; does nothing when there is none."""

    def __init__(self, address: str | None, watchdog_interval: float | None = None) -> None:
        self.address = address
        self.watchdog_interval = watchdog_interval
        self._warned = False

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        env = os.environ if environ is None else environ
        address = socket_address(env.get("NOTIFY_SOCKET", ""))
        return cls(address, watchdog_seconds(env, os.getpid()))

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, **fields: str | int) -> bool:
        """Send `KEY=value` lines (keys upper-cased); True if the manager got them."""
        if self.address is None:
            return False
        lines = "\n".join(f"{key.upper()}={_one_line(str(value))}" for key, value in fields.items())
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(self.address)
                sock.sendall(lines.encode())
        except OSError as exc:
            if not self._warned:
                log.warning("cannot notify the service manager: %s", exc.strerror or exc)
                self._warned = True
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        fields: dict[str, str | int] = {"ready": 1, "mainpid": os.getpid()}
        if status:
            fields["status"] = status
        return self.notify(**fields)

    def status(self, text: str) -> bool:
        return self.notify(status=text)

    def watchdog(self) -> bool:
        return self.notify(watchdog=1)

    def stopping(self, status: str | None = None) -> bool:
        fields: dict[str, str | int] = {"stopping": 1}
        if status:
            fields["status"] = status
        return self.notify(**fields)

    def extend_timeout(self, seconds: float) -> bool:
        """Ask for more time to start or stop (EXTEND_TIMEOUT_USEC)."""
        return self.notify(extend_timeout_usec=int(seconds * 1_000_000))


def _one_line(text: str) -> str:
    # A newline would start a new KEY=value assignment in the datagram.
    return " ".join(text.split())
