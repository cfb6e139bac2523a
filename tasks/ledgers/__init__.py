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
    """The ledger for ``tool`` (detected from ``directory`` when None)."""
    name = tool or detect_tool(directory)
    try:
        return LEDGERS[name](directory, schema)
    except KeyError:
        raise ConfigError(f"MIGRATION_TOOL: expected one of {', '.join(LEDGERS)}, got {name!r}") from None


__all__ = ["LEDGERS", "Ledger", "PrismaLedger", "SqlDirLedger", "detect_tool", "get_ledger"]
