"""Configuration: layering, secrets from files, and one clear error line for bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.config import load_settings
from digest.errors import ConfigError


def test_defaults_need_no_file() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite:///data/digest.sqlite3"
    assert settings.smtp.host is None
    assert settings.outbox_dir == Path("data/outbox")
    assert settings.web.host == "127.0.0.1"
    assert {s.kind for s in settings.sources} == {"arxiv-rss", "hf-daily"}


def test_file_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "digest.toml"
    path.write_text('[smtp]\nhost = "mail.example.org"\nport = 25\n[digest]\nmax_items = 7\n')
    monkeypatch.setenv("DIGEST_SMTP__PORT", "2525")
    settings = load_settings(path)
    assert (settings.smtp.host, settings.smtp.port, settings.digest.max_items) == (
        "mail.example.org",
        2525,
        7,
    )


def test_digest_toml_in_working_directory_and_env_var(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "digest.toml").write_text("[digest]\nmax_items = 3\n")
    assert load_settings().digest.max_items == 3
    other = tmp_path / "other.toml"
    other.write_text("[digest]\nmax_items = 4\n")
    monkeypatch.setenv("DIGEST_CONFIG", str(other))
    assert load_settings().digest.max_items == 4


def test_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "smtp-password"
    secret.write_text("s3cret\n")
    path = tmp_path / "digest.toml"
    path.write_text(f'[smtp]\nhost = "h"\npassword_file = "{secret}"\n')
    assert load_settings(path).smtp.password == "s3cret"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[smtp]\nhots = 'x'\n", "unknown key 'smtp.hots'"),
        ("[smtp]\nport = 'abc'\n", "key 'smtp.port'"),
        ("[digest]\ndefault_timezone = 'Mars/Olympus'\n", "digest.default_timezone"),
        ("[digest]\ndefault_send_at = '25:00'\n", "digest.default_send_at"),
        ("[web]\nsecret_key_file = '/nonexistent/key'\n", "web.secret_key_file"),
        ("[[sources]]\nname = 'x'\nkind = 'gopher'\nurl = 'u'\n", "sources.0.kind"),
        ("not toml at all [", "not valid TOML"),
    ],
)
def test_bad_config_names_key_and_file(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(body)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.toml")


def test_generated_secret_key_is_kept(tmp_path: Path) -> None:
    settings = load_settings(service={"data_dir": str(tmp_path)})
    key = settings.secret_key()
    assert len(key) > 40
    assert load_settings(service={"data_dir": str(tmp_path)}).secret_key() == key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
