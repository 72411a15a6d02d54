"""The systemd notification protocol, spoken to real datagram sockets the test creates."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.notify import Notifier, socket_address, watchdog_seconds


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    """A listening NOTIFY_SOCKET on the file system: ($NOTIFY_SOCKET value, socket)."""
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(5)
    yield str(path), sock
    sock.close()


@pytest.fixture
def abstract_notify_socket() -> Iterator[tuple[str, socket.socket]]:
    """A listening NOTIFY_SOCKET in the abstract namespace (`@name`), as systemd uses."""
    name = f"digest-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(5)
    yield "@" + name, sock
    sock.close()


def received(sock: socket.socket) -> dict[str, str]:
    data = sock.recv(4096).decode()
    return dict(line.split("=", 1) for line in data.splitlines())


def test_ready_reaches_a_path_socket(notify_socket: tuple[str, socket.socket]) -> None:
    address, sock = notify_socket
    notifier = Notifier.from_environment({"NOTIFY_SOCKET": address})
    assert notifier.ready("web on :8000; 3 active subscribers")
    assert received(sock) == {
        "READY": "1",
        "MAINPID": str(os.getpid()),
        "STATUS": "web on :8000; 3 active subscribers",
    }


def test_status_watchdog_and_stopping_reach_an_abstract_socket(
    abstract_notify_socket: tuple[str, socket.socket],
) -> None:
    address, sock = abstract_notify_socket
    notifier = Notifier.from_environment({"NOTIFY_SOCKET": address})
    notifier.status("next fetch arxiv-ai Sun 20:30 EDT")
    notifier.watchdog()
    notifier.stopping()
    assert received(sock) == {"STATUS": "next fetch arxiv-ai Sun 20:30 EDT"}
    assert received(sock) == {"WATCHDOG": "1"}
    assert received(sock) == {"STOPPING": "1"}


def test_a_status_line_stays_one_line(notify_socket: tuple[str, socket.socket]) -> None:
    address, sock = notify_socket
    Notifier.from_environment({"NOTIFY_SOCKET": address}).status("two\nlines\nREADY=1")
    assert received(sock) == {"STATUS": "two lines READY=1"}


def test_without_systemd_every_call_is_a_no_op() -> None:
    notifier = Notifier.from_environment({})
    assert not notifier.enabled
    assert not notifier.ready("x")
    assert notifier.watchdog_interval is None


def test_a_vanished_socket_does_not_take_the_service_down(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier.from_environment({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    assert not notifier.ready()
    assert not notifier.status("still running")
    assert len([r for r in caplog.records if "cannot notify" in r.message]) == 1


def test_socket_addresses() -> None:
    assert socket_address("/run/systemd/notify") == "/run/systemd/notify"
    assert socket_address("@abstract") == "\0abstract"
    assert socket_address("vsock:2:1234") is None
    assert socket_address("") is None


def test_the_watchdog_interval_applies_only_to_its_own_process() -> None:
    assert watchdog_seconds({"WATCHDOG_USEC": "30000000"}, 42) == 30.0
    assert watchdog_seconds({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "42"}, 42) == 30.0
    assert watchdog_seconds({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "7"}, 42) is None
    assert watchdog_seconds({"WATCHDOG_USEC": "0"}, 42) is None
    assert watchdog_seconds({}, 42) is None
