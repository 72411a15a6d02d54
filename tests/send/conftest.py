"""Fixtures for the delivery tests: a real, fault-injectable SMTP server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.send.smtpd import FaultySmtpServer, running_server


@pytest.fixture
def smtp_server() -> Iterator[FaultySmtpServer]:
    """An aiosmtpd server on 127.0.0.1 that records messages; set `.plan` to inject faults.
    It offers PIPELINING, as Postfix does (test_transport also runs without)."""
    with running_server(pipelining=True) as server:
        yield server
