"""Configuration: the `Settings` model and the function that loads it.

Layers, lowest first: built-in defaults, then a TOML file, then `DIGEST_<SECTION>__<KEY>`
environment variables. Secrets may also come from files (`password_file`, `secret_key_file`,
`url_file`), which is how systemd credentials (`LoadCredential=`) reach the service.

Nothing here runs at import time: call `load_settings()` and pass the result around.
Every problem is raised as `ConfigError`, whose message names the key and the file.
"""

from __future__ import annotations

import functools
import os
import re
import secrets
import tomllib
import zoneinfo
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from digest.errors import ConfigError

SourceKind = Literal["arxiv-rss", "arxiv-api", "hf-daily", "rss"]
Security = Literal["starttls", "tls", "none"]
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")


def parse_duration(text: str) -> int:
    """Seconds in a duration such as `90s`, `15m`, `6h` or `1d`."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration such as '30m', '6h' or '1d'")
    value, unit = int(match[1]), match[2]
    return value * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


def parse_send_time(text: str) -> time:
    """A local send time written `HH:MM` (24-hour clock)."""
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a time of day written HH:MM (00:00 to 23:59)")
    return time(int(match[1]), int(match[2]))


# Files in the time zone database that are not places: the machine's own setting, the
# template for POSIX TZ strings, and tzdata's "unconfigured" marker.
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})
MAX_TIMEZONE_CHARS = 64  # the longest IANA name has 32 characters


@functools.cache
def _zone_names() -> dict[str, str]:
    """Every IANA zone name this machine knows (with the `tzdata` package: all of them),
    by its case-folded form."""
    return {name.casefold(): name for name in zoneinfo.available_timezones() - _NOT_ZONES}


def check_timezone(name: str) -> str:
    """The IANA name of the time zone `name` (any letter case), or ValueError.

    The one check every entry point uses (web forms, mail, CLI, imports, configuration).
    Only names of the zone list are taken: a folder of the database such as `Europe`, a
    path, or a name too long for any zone is refused before any file is opened.
    """
    found = _zone_names().get(name.strip().casefold()) if len(name) <= MAX_TIMEZONE_CHARS else None
    if found is None:
        shown = name if len(name) <= MAX_TIMEZONE_CHARS else name[:40] + "…"
        raise ValueError(f"{shown!r} is not an IANA time zone such as 'Europe/Berlin'")
    return found


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServiceSettings(_Section):
    data_dir: Path | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"


def check_database_url(url: str) -> str:
    """`url` if it is an SQLAlchemy URL of SQLite or PostgreSQL; ValueError (which never
    repeats the URL: it may hold a password) if not."""
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        backend = None
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(
            "not a URL of an SQLite or PostgreSQL database, such as "
            "'sqlite:////var/lib/digest/digest.sqlite3' or 'postgresql://digest@127.0.0.1/digest'"
        )
    return url


class DatabaseSettings(_Section):
    url: str | None = None
    url_file: Path | None = None
    lock_timeout: float = Field(default=30.0, gt=0, le=3600)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return check_database_url(value) if value is not None else None


class SmtpSettings(_Section):
    host: str | None = None
    port: int = Field(default=587, ge=1, le=65535)
    security: Security = "starttls"
    username: str | None = None
    password: str | None = None
    password_file: Path | None = None
    timeout: float = Field(default=30.0, gt=0)
    max_connections: int = Field(default=4, ge=1, le=64)
    rate_per_second: float = Field(default=0.0, ge=0)


class MailSettings(_Section):
    from_address: str = "digest@localhost"
    from_name: str = "Paper Digest"
    reply_to: str | None = None
    list_id: str | None = None
    outbox_dir: Path | None = None
    footer_text: str = ""
    subscribe_address: str | None = None
    dkim_selector: str | None = None
    dkim_domain: str | None = None
    dkim_key_file: Path | None = None

    @property
    def domain(self) -> str:
        """The domain of the From address: Message-IDs, VERP and mailto links use it."""
        return self.from_address.rpartition("@")[2] or "localhost"


class InboundSettings(_Section):
    host: str | None = None
    port: int = Field(default=2525, ge=1, le=65535)


class WebSettings(_Section):
    base_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    secret_key: str | None = None
    secret_key_file: Path | None = None

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(
                f"{value!r} is not an http(s) URL such as 'https://digest.example.org'"
            )
        return value.rstrip("/")


class DigestSettings(_Section):
    max_items: int = Field(default=10, ge=1, le=100)
    max_items_weekly: int = Field(default=15, ge=1, le=100)
    default_send_at: str = "07:00"
    default_timezone: str = "UTC"
    skip_when_empty: bool = True
    render_processes: int = Field(default=2, ge=0, le=64)

    @field_validator("default_send_at")
    @classmethod
    def _send_at(cls, value: str) -> str:
        parse_send_time(value)
        return value

    @field_validator("default_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return check_timezone(value)


class RankSettings(_Section):
    # Another ONNX sentence-transformers export (a directory with model.onnx or
    # onnx/model.onnx and tokenizer.json); default: the packaged all-MiniLM-L6-v2.
    model_dir: Path | None = None
    # Texts the sentence model embeds at once, a thread each; 0: one per core, at most 4.
    threads: int = Field(default=0, ge=0, le=256)


class LibrarySettings(_Section):
    # Where papers a subscriber adds from their library are looked up by id.
    arxiv_api_url: str = "https://export.arxiv.org/api/query"

    @field_validator("arxiv_api_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value


class SourceSettings(_Section):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    kind: SourceKind
    url: str
    every: str | None = None
    cron: str | None = None
    timezone: str = "America/New_York"

    @field_validator("every")
    @classmethod
    def _every(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return check_timezone(value)


def default_sources() -> list[SourceSettings]:
    """What a fresh install follows: arXiv's AI/ML listings and Hugging Face Daily Papers."""
    return [
        SourceSettings(
            name="arxiv-ai",
            kind="arxiv-rss",
            url="https://rss.arxiv.org/atom/cs.AI+cs.CL+cs.CV+cs.LG",
            cron="30 20 * * 0-4",
        ),
        SourceSettings(
            name="hf-daily",
            kind="hf-daily",
            url="https://huggingface.co/api/daily_papers",
            every="2h",
        ),
    ]


class Settings(BaseSettings):
    """The whole configuration. Build it with `load_settings()`."""

    model_config = SettingsConfigDict(
        env_prefix="DIGEST_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    service: ServiceSettings = ServiceSettings()
    database: DatabaseSettings = DatabaseSettings()
    smtp: SmtpSettings = SmtpSettings()
    mail: MailSettings = MailSettings()
    inbound: InboundSettings = InboundSettings()
    web: WebSettings = WebSettings()
    digest: DigestSettings = DigestSettings()
    rank: RankSettings = RankSettings()
    library: LibrarySettings = LibrarySettings()
    sources: list[SourceSettings] = Field(default_factory=default_sources)

    # Where the settings came from, for messages; not a configuration key.
    config_file: Annotated[Path | None, Field(exclude=True)] = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the file, which arrives as init arguments.
        return (env_settings, init_settings)

    @property
    def data_dir(self) -> Path:
        """Where the SQLite file, the outbox and the generated secret key live."""
        if self.service.data_dir is not None:
            return self.service.data_dir
        state = os.environ.get("STATE_DIRECTORY")
        return Path(state.split(":")[0]) if state else Path("data")

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite:///{(self.data_dir / 'digest.sqlite3').as_posix()}"

    @property
    def outbox_dir(self) -> Path:
        return self.mail.outbox_dir or self.data_dir / "outbox"

    @property
    def list_id(self) -> str:
        return self.mail.list_id or f"daily.{self.mail.domain}"

    def secret_key(self) -> str:
        """The key that signs links; generated once into the data directory if none is set."""
        if self.web.secret_key:
            return self.web.secret_key
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key + "\n")
        return key


_SECRET_FILES = {
    ("database", "url_file"): "url",
    ("smtp", "password_file"): "password",
    ("web", "secret_key_file"): "secret_key",
}


def find_config_file(explicit: Path | None) -> Path | None:
    """`--config`, else `$DIGEST_CONFIG`, else `./digest.toml` if present, else none."""
    if explicit is not None:
        return explicit
    env = os.environ.get("DIGEST_CONFIG")
    if env:
        return Path(env)
    local = Path("digest.toml")
    return local if local.is_file() else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def _describe(error: dict[str, Any], origin: str) -> str:
    loc = ".".join(str(part) for part in error["loc"])
    env_name = "DIGEST_" + "__".join(str(part) for part in error["loc"][:2]).upper()
    if env_name in os.environ:
        origin = f"environment variable {env_name}"
    if error["type"] == "extra_forbidden":
        return f"{origin}: unknown key '{loc}'"
    return f"{origin}: key '{loc}': {error['msg']}"


def _resolve_secret_files(settings: Settings, origin: str) -> Settings:
    updates: dict[str, BaseModel] = {}
    for (section, file_key), target in _SECRET_FILES.items():
        model = getattr(settings, section)
        path = getattr(model, file_key)
        if path is None or getattr(model, target):
            continue
        path = Path(os.path.expandvars(str(path)))
        try:
            value = path.read_text().strip()
        except OSError as exc:
            raise ConfigError(
                f"{origin}: key '{section}.{file_key}': cannot read {path} ({exc.strerror})"
            ) from None
        updates[section] = model.model_copy(update={target: value})
    return settings.model_copy(update=updates) if updates else settings


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Load the configuration (see the module docstring); raise ConfigError on any problem."""
    path = find_config_file(config_file)
    data: dict[str, Any] = _read_toml(path) if path is not None else {}
    data.update(overrides)
    origin = str(path) if path is not None else "the environment"
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(_describe(dict(first), origin)) from None
    settings = _resolve_secret_files(settings.model_copy(update={"config_file": path}), origin)
    if settings.database.url_file is not None and settings.database.url:
        try:
            check_database_url(settings.database.url)
        except ValueError as exc:
            where = settings.database.url_file
            raise ConfigError(f"{origin}: key 'database.url_file': {where} holds {exc}") from None
    return settings
