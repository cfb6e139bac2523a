"""The `migration-guard` command line.

Each command lives in its own module in this package and exposes ``register(app)``; modules are
discovered at start-up, so adding a command never touches this file. Keep command modules cheap
to import: import Prefect and heavy libraries inside the command function, so `--help`, `status`
and `lint` answer fast.
"""

from __future__ import annotations

import os as _os
import signal as _signal
import sys as _sys


def _interrupted_while_starting(signum: int, frame: Any) -> None:
    """Ctrl-C / SIGTERM before the command started (the imports take ~1 s): nothing was done, so
    say so in one line and leave at once — raising here would print an import traceback, or be
    swallowed by a library's broad ``except`` during its import and let the command run anyway."""
    name = _signal.Signals(signum).name
    _os.write(2, f"interrupted: nothing was changed ({name}, while starting)\n".encode())
    _os._exit(128 + signum)


if _os.path.basename(_sys.argv[0]) == "migration-guard" or _sys.argv[0] == "-m":  # the command, not an import
    for _signum in (_signal.SIGINT, _signal.SIGTERM):
        _signal.signal(_signum, _interrupted_while_starting)

import importlib
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import typer


app = typer.Typer(
    name="migration-guard",
    help=(
        "Migration recovery and prevention for PostgreSQL, orchestrated by Prefect.\n\n"
        "Configuration comes from environment variables (DATABASE_URL, MIGRATIONS_DIR, "
        "MIGRATION_TOOL, ENVIRONMENT, BACKUP_DIR, ALERTS_DIR, LOG_DIR ...) overridden by the "
        "global options below. Run `migration-guard COMMAND --help` for each command's options "
        "and exit codes."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # plain help (click's formatter): readable at 80 columns, option names never cut
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@dataclass
class GlobalOptions:
    """Options given before the command; they override environment variables."""

    database_url: str | None = None
    migrations_dir: Path | None = None
    tool: str | None = None
    schema: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def settings(self, **overrides: Any):  # -> Settings (import kept lazy)
        """Settings from the environment, these options and command-specific ``overrides``.

        Raises:
            ConfigError: an invalid or missing value, named.
        """
        from migration_guard.tasks.settings import load_settings

        values: dict[str, Any] = {
            "database_url": self.database_url,
            "migrations_dir": self.migrations_dir,
            "migration_tool": self.tool,
            "DB_SCHEMA": self.schema,
        }
        values.update(overrides)
        return load_settings(**values)

    def project(self, **overrides: Any):  # -> Project
        """The resolved :class:`~migration_guard.tasks.project.Project`.

        Raises:
            ConfigError: see Project.from_settings.
        """
        from migration_guard.tasks.project import Project

        return Project.from_settings(self.settings(**overrides))


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"migration-guard {version('migration-guard')}")
        raise typer.Exit(0)


@app.callback()
def _global_options(
    ctx: typer.Context,
    database_url: Optional[str] = typer.Option(
        None, "--database-url", "-d", help="PostgreSQL URL (default: $DATABASE_URL). The password is never printed.",
        show_default=False,
    ),
    migrations_dir: Optional[Path] = typer.Option(
        None, "--migrations-dir", "-m",
        help="Migrations folder (default: $MIGRATIONS_DIR, else ./prisma/migrations or ./migrations).",
        show_default=False,
    ),
    tool: Optional[str] = typer.Option(
        None, "--tool", "-t", help="prisma | sql (default: $MIGRATION_TOOL, else detected from the folder).",
        show_default=False,
    ),
    schema: Optional[str] = typer.Option(
        None, "--schema", help="Schema the migrations target (default: $DB_SCHEMA, the URL's ?schema=, or public).",
        show_default=False,
    ),
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", is_eager=True, callback=_print_version,
    ),
) -> None:
    ctx.obj = GlobalOptions(database_url=database_url, migrations_dir=migrations_dir, tool=tool, schema=schema)


def _register_commands() -> None:
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module_info.ispkg or module_info.name.startswith("_") or module_info.name == "output":
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_commands()


#: global options also accepted after the command (`migration-guard status --database-url ...`)
HOISTED_OPTIONS = ("--database-url", "--migrations-dir", "--tool", "--schema")


#: global options that take a value (long and short spellings)
_VALUE_OPTIONS = frozenset({*HOISTED_OPTIONS, "-d", "-m", "-t"})


def _command_index(argv: list[str]) -> int | None:
    """Position of the command name, skipping global options and their values."""
    index = 0
    while index < len(argv):
        arg = argv[index]
        if not arg.startswith("-"):
            return index
        index += 2 if arg in _VALUE_OPTIONS else 1
    return None


def hoist_global_options(argv: list[str]) -> list[str]:
    """Move global options written after the command in front of it, where the parser expects them.

    Only the long spellings are moved, so a command's own short flags are never taken.
    """
    command_at = _command_index(argv)
    if command_at is None:
        return argv
    leading, rest = argv[:command_at], argv[command_at:]
    moved: list[str] = []
    kept: list[str] = []
    index = 0
    while index < len(rest):
        arg = rest[index]
        name = arg.split("=", 1)[0]
        if arg == "--":
            kept.extend(rest[index:])
            break
        if name in HOISTED_OPTIONS:
            if "=" in arg:
                moved.append(arg)
            elif index + 1 < len(rest):
                moved.extend(rest[index : index + 2])
                index += 1
            else:
                kept.append(arg)
        else:
            kept.append(arg)
        index += 1
    return [*leading, *moved, *kept]


def main() -> None:
    """Console-script entry point.

    SIGINT and SIGTERM interrupt every command cleanly (``tasks/interrupts.py``): the running
    statement is cancelled and rolled back, child processes stop, partial files go, and one
    ``interrupted: ...`` line says what (if anything) stays committed; exit 130 / 143.
    """
    import logging
    import os
    import sys

    from migration_guard.cli.output import print_interrupted
    from migration_guard.tasks import interrupts

    # the temporary Prefect server a `--flow` run starts sends telemetry heartbeats that log
    # "database is locked" tracebacks on its SQLite under load; a user's own setting wins
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # psycopg warns on stderr when a rollback after a cancelled statement finds the connection busy
    # ("error ignored in rollback"): the command's own line already says what happened
    logging.getLogger("psycopg").setLevel(logging.ERROR)
    interrupts.install()
    try:
        app(args=hoist_global_options(sys.argv[1:]), prog_name="migration-guard")
    except KeyboardInterrupt as exc:  # outside a command (typer turns one inside into exit 130)
        raise SystemExit(print_interrupted(getattr(exc, "signum", None))) from None
    except SystemExit as exc:
        # a command without handle_errors: typer turned the interrupt into a silent exit 130
        if exc.code == 130 and interrupts.received() is not None:
            raise SystemExit(print_interrupted()) from None
        raise
