"""`digest check` against a real SMTP server, and `digest stats` on a real database."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import CliResult


class _Sink:
    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def auth_smtp() -> Iterator[int]:
    """A real SMTP server on 127.0.0.1 that wants AUTH user/pass (no TLS)."""

    def authenticate(
        server: SMTP, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"pass"
        return AuthResult(success=ok, handled=False)

    port = _free_port()
    controller = Controller(
        _Sink(), hostname="127.0.0.1", port=port, authenticator=authenticate, auth_require_tls=False
    )
    controller.start()
    yield port
    controller.stop()


def _write_config(path: Path, extra: str) -> Path:
    path.write_text(path.read_text() + extra)
    return path


def test_check_passes_with_reachable_smtp_and_prints_dkim_record(
    config_file: Path, tmp_path: Path, auth_smtp: int, run_cli: Callable[..., CliResult]
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = tmp_path / "dkim.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    text = (
        config_file.read_text()
        .replace("[web]\n", '[web]\nbase_url = "https://digest.example.org"\n')
        .replace(
            "[mail]\n",
            f'[mail]\ndkim_selector = "d1"\ndkim_domain = "example.org"\n'
            f'dkim_key_file = "{key_file}"\n',
        )
    )
    config_file.write_text(
        text + f'[smtp]\nhost = "127.0.0.1"\nport = {auth_smtp}\n'
        'security = "none"\nusername = "user"\npassword = "pass"\n'
    )
    run_cli("--config", str(config_file), "db", "upgrade")
    result = run_cli("--config", str(config_file), "check")
    assert result.code == 0, result
    assert "EHLO, AUTH ok" in result.out
    assert 'd1._domainkey.example.org IN TXT "v=DKIM1; k=rsa; p=MII' in result.out
    assert "✗" not in result.out


def test_check_fails_on_wrong_password_and_unmigrated_db(
    config_file: Path, auth_smtp: int, run_cli: Callable[..., CliResult]
) -> None:
    _write_config(
        config_file,
        f'[smtp]\nhost = "127.0.0.1"\nport = {auth_smtp}\n'
        'security = "none"\nusername = "user"\npassword = "wrong"\n',
    )
    result = run_cli("--config", str(config_file), "check")
    assert result.code == 2
    assert "✗ database" in result.out
    assert "digest db upgrade" in result.out
    assert "✗ smtp" in result.out
    assert "535" in result.out


def test_check_reports_missing_starttls_and_closed_port(
    config_file: Path, run_cli: Callable[..., CliResult]
) -> None:
    port = _free_port()
    _write_config(config_file, f'[smtp]\nhost = "127.0.0.1"\nport = {port}\n')
    run_cli("--config", str(config_file), "db", "upgrade")
    result = run_cli("--config", str(config_file), "check")
    assert result.code == 2
    assert "✗ smtp: 127.0.0.1:" in result.out
    assert "Traceback" not in result.out + result.err


def test_stats_on_a_fresh_database(config_file: Path, run_cli: Callable[..., CliResult]) -> None:
    text = config_file.read_text()
    config_file.write_text(
        text + '[[sources]]\nname = "arxiv-ai"\nkind = "arxiv-rss"\n'
        'url = "http://127.0.0.1:9/atom/cs.AI"\n'
    )
    cfg = ("--config", str(config_file))
    run_cli(*cfg, "db", "upgrade")
    run_cli(*cfg, "subscribers", "add", "a@example.org", "--topic", "agents", "--confirmed")
    result = run_cli(*cfg, "stats")
    assert result.code == 0, result
    assert "active" in result.out
    assert "Suppressed addresses: 0" in result.out
    assert "next digest due" in result.out
    assert "fetch arxiv-ai" in result.out
