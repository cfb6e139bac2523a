"""Migration ledgers: one module per tool behind the :class:`Ledger` interface."""

from __future__ import annotations

from pathlib import Path

from migration_guard.tasks.errors import ConfigError
from migration_guard.tasks.ledgers.base import Ledger
from migration_guard.tasks.ledgers.prisma import PrismaLedger, looks_like_prisma
from migration_guard.tasks.ledgers.sqldir import SqlDirLedger, looks_like_sql_dir

LEDGERS: dict[str, type[Ledger]] = {"prisma": PrismaLedger, "sql": SqlDirLedger}


def detect_tool(directory: Path) -> str:
    """``prisma`` or ``sql`` from the folder's contents.

    Raises:
        ConfigError: the folder matches neither layout.
    """
    if looks_like_prisma(directory):
        return "prisma"
    if looks_like_sql_dir(directory):
        return "sql"
    raise ConfigError(
        f"cannot tell which migration tool {str(directory)!r} belongs to (no migration_lock.toml, "
        "no <name>/migration.sql folders, no .sql files)",
        "set MIGRATION_TOOL=prisma or MIGRATION_TOOL=sql",
    )


def get_ledger(tool: str | None, directory: Path, schema: str = "public") -> Ledger:
    """The ledger for ``tool`` (detected from ``directory`` when None).

    Raises:
        ConfigError: an unknown tool, a folder no tool matches, or a tool named explicitly that the
            folder's layout contradicts (read the wrong way, every migration would look absent).
    """
    name = tool or detect_tool(directory)
    if name not in LEDGERS:
        raise ConfigError(f"MIGRATION_TOOL: expected one of {', '.join(LEDGERS)}, got {name!r}")
    if tool is not None:
        _check_layout(tool, directory)
    return LEDGERS[name](directory, schema)


def _check_layout(tool: str, directory: Path) -> None:
    if not directory.is_dir():
        return
    prisma_folders = any((child / "migration.sql").exists() for child in directory.iterdir() if child.is_dir())
    sql_files = looks_like_sql_dir(directory)
    if tool == "sql" and prisma_folders and not sql_files:
        raise ConfigError(
            f"MIGRATION_TOOL=sql, but {str(directory)!r} holds Prisma migrations (<name>/migration.sql folders)",
            "set MIGRATION_TOOL=prisma (or unset it: the tool is detected from the folder)",
        )
    if tool == "prisma" and sql_files and not prisma_folders:
        raise ConfigError(
            f"MIGRATION_TOOL=prisma, but {str(directory)!r} holds plain .sql files, not <name>/migration.sql folders",
            "set MIGRATION_TOOL=sql (or unset it: the tool is detected from the folder), or point MIGRATIONS_DIR "
            "at prisma/migrations",
        )


__all__ = ["LEDGERS", "Ledger", "PrismaLedger", "SqlDirLedger", "detect_tool", "get_ledger"]
