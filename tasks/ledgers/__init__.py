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
    _check_not_one_level_off(directory)
    name = tool or detect_tool(directory)
    if name not in LEDGERS:
        raise ConfigError(f"MIGRATION_TOOL: expected one of {', '.join(LEDGERS)}, got {name!r}")
    if tool is not None:
        _check_layout(tool, directory)
    return LEDGERS[name](directory, schema)


def _check_not_one_level_off(directory: Path) -> None:
    """Refuse a MIGRATIONS_DIR that points one level too deep (one Prisma migration's folder) or one
    level too high (``prisma/``): read as a folder of .sql files, it would run Prisma's SQL outside
    Prisma's ledger and lock."""
    if not directory.is_dir():
        return
    parent = directory.parent
    if (directory / "migration.sql").is_file() and (
        (parent / "migration_lock.toml").exists()
        or any((sibling / "migration.sql").is_file() for sibling in parent.iterdir() if sibling != directory)
    ):
        raise ConfigError(
            f"MIGRATIONS_DIR {str(directory)!r} is one Prisma migration, not the migrations folder",
            f"point MIGRATIONS_DIR at the folder that holds the migrations: export MIGRATIONS_DIR={parent}",
        )
    inner = directory / "migrations"
    if inner.is_dir() and looks_like_prisma(inner) and not looks_like_sql_dir(directory) and not any(
        (child / "migration.sql").is_file() for child in directory.iterdir() if child.is_dir()
    ):
        raise ConfigError(
            f"MIGRATIONS_DIR {str(directory)!r} holds the migrations folder, it is not the folder itself",
            f"export MIGRATIONS_DIR={inner}",
        )


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
