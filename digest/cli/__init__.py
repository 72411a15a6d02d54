"""The admin command line: `digest …`. Thin commands over the pipeline and the store.

Exit codes: 0 ok; 1 unexpected error; 2 usage or configuration error (bad option, bad
config, unknown subscriber, database not migrated); 3 partial failure (some sources or
messages failed, the rest done); 4 database unavailable (`DatabaseUnavailable`: read-only,
locked, unreachable, full or damaged; the unit of work was rolled back).

Each command module registers its commands on `cli`; `main()` turns the project's errors
into one clean line on stderr and the documented exit code.
"""

from __future__ import annotations

import logging
import os
import sys

import click

from digest.cli.app import App, cli
from digest.errors import DigestError

# Command modules register themselves on `cli` when imported.
from digest.cli import admin, db, demo, library, mail, papers, service  # noqa: F401  isort: skip
from digest.cli import subscriber_files, subscribers, votes  # noqa: F401  isort: skip

__all__ = ["App", "cli", "main"]


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        code = cli.main(args=argv, prog_name="digest", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.UsageError as exc:
        # One line, as for every other error: the message, and where to read more.
        where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        click.echo(f"Error: {' '.join(exc.format_message().split())}{where}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except DigestError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except Exception as exc:  # the last line of defence: one line, not a traceback
        if os.environ.get("DIGEST_DEBUG"):
            raise
        logging.getLogger("digest").debug("unexpected error", exc_info=True)
        click.echo(
            f"Unexpected error: {type(exc).__name__}: {_first_line(exc)} "
            "(set DIGEST_DEBUG=1 for details)",
            err=True,
        )
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


def _first_line(exc: BaseException) -> str:
    """The message's first line, at most 300 characters: a driver error's SQL statement and
    parameters follow on later lines and stay out of sight (DIGEST_DEBUG shows them)."""
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else ""
