"""The root `digest` command group and the `App` object every command receives.

The command modules import only click, the standard library and this module at the top: the
settings, the database, the sentence model and everything else heavy are imported inside
the commands that use them, so `digest --help` and every command's `--help` start at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from digest.errors import UsageError

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy import Engine

    from digest.config import Settings
    from digest.rank.embed import SentenceModel

EXIT_CODES_HELP = """
\b
Exit codes:
  0  success
  1  unexpected error
  2  usage or configuration error (bad option or input, bad config,
     unknown subscriber, database not migrated: run `digest db upgrade`)
  3  partial failure (some sources or messages failed; the rest were done)
  4  database unavailable (read-only, locked, unreachable, full or damaged);
     what was being written was rolled back: fix the named problem and run
     the command again
"""


@dataclass
class App:
    """Lazily loaded settings and database engine, shared by the commands of one run."""

    config_path: Path | None = None
    quiet: bool = False
    _settings: Settings | None = None
    _engine: Engine | None = None
    _model: SentenceModel | None = None
    _console: Console | None = None
    _err: Console | None = None

    @property
    def console(self) -> Console:
        """Rich output to stdout."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(highlight=False)
        return self._console

    @property
    def err(self) -> Console:
        """Rich output to stderr."""
        if self._err is None:
            from rich.console import Console

            self._err = Console(stderr=True, highlight=False)
        return self._err

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from digest.config import load_settings

            self._settings = load_settings(self.config_path)
        return self._settings

    def engine(self, *, migrated: bool = True) -> Engine:
        """The database engine; by default refuses unless the schema is current."""
        from digest.store.engine import open_engine
        from digest.store.migrations import require_current

        if self._engine is None:
            self._engine = open_engine(
                self.settings.database_url, lock_timeout=self.settings.database.lock_timeout
            )
        if migrated:
            require_current(self._engine)
        return self._engine

    def sentence_model(self, *, load: bool = False) -> SentenceModel:
        """The configured sentence model, loaded now with `load` (ConfigError, exit 2,
        naming the fix, before the command changes anything), else when first used."""
        if self._model is None:
            from digest.pipeline.embed import configured_model

            self._model = configured_model(self.settings)
        if load:
            self._model.load()
        return self._model

    def checked_model(self) -> SentenceModel:
        """The configured sentence model with its files checked (ConfigError, exit 2, naming
        the fix, before the command changes anything); it loads when it first embeds."""
        model = self.sentence_model()
        model.model_id  # noqa: B018 - reading it checks the files
        return model

    @property
    def progress_hidden(self) -> bool:
        """Progress bars show only on a terminal, and not with --quiet (elsewhere they
        would leave blank lines in front of the one line an error prints)."""
        return self.quiet or not self.err.is_terminal

    def say(self, message: str) -> None:
        """Print a progress or summary line unless --quiet (as it is: no rich markup, since
        it often quotes what subscribers wrote)."""
        if not self.quiet:
            self.console.print(message, soft_wrap=True, markup=False)


pass_app: Callable[[Callable[..., Any]], Callable[..., Any]] = click.make_pass_decorator(App)


@click.group(
    help="Paper Digest: daily emails of new research papers, ranked for each subscriber.\n"
    + EXIT_CODES_HELP,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Config file (default: $DIGEST_CONFIG, else ./digest.toml if present, else defaults).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only errors (for cron and scripts).")
@click.version_option(package_name="paper-digest")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, quiet: bool) -> None:
    ctx.obj = App(config_path=config_path, quiet=quiet)
    ctx.call_on_close(lambda: ctx.obj._engine.dispose() if ctx.obj._engine else None)


class DateParam(click.ParamType[date]):
    """A calendar date written YYYY-MM-DD, between FIRST_DATE and LAST_DATE: the days a
    digest can be for, with room for the day before and after in every time zone."""

    name = "date"
    FIRST_DATE = date(1900, 1, 1)
    LAST_DATE = date(9998, 12, 31)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            day = date.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{str(value)[:40]!r} is not a date written YYYY-MM-DD", param, ctx)
        if not self.FIRST_DATE <= day <= self.LAST_DATE:
            self.fail(f"{day} is not between {self.FIRST_DATE} and {self.LAST_DATE}", param, ctx)
        return day


def read_text_file(path: Path, *, encoding: str = "utf-8", newline: str | None = None) -> str:
    """The text of an input file; UsageError (one line, exit 2) if it cannot be read."""
    try:
        with path.open(encoding=encoding, newline=newline) as handle:
            return handle.read()
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8"
        ) from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None


def write_output(path: Path, data: bytes) -> None:
    """Write an output file; UsageError (one line, exit 2) if it cannot be written."""
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def format_option(*script_formats: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--format table|…`: a table for people (the default), the given formats for scripts."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["table", *script_formats]),
        default="table",
        show_default=True,
        help=f"Output format: a table for people, {' or '.join(script_formats)} for scripts.",
    )
