"""A folder of ordered ``.sql`` files (optional ``.down.sql``) with our own ledger table."""

from __future__ import annotations

from pathlib import Path

from migration_guard.tasks.ledgers.base import Ledger, read_migration_file
from migration_guard.tasks.models import Migration

#: advisory lock key for SQL-folder projects ("mgsq" as a big-endian int32)
SQL_DIR_LOCK_KEY = int.from_bytes(b"mgsq", "big")
LEDGER_SCHEMA = "migration_guard"
LEDGER_TABLE = "schema_migrations"


class SqlDirLedger(Ledger):
    """``NNNN_name.sql`` files in lexical order; ledger ``migration_guard.schema_migrations``."""

    tool = "sql"
    lock_key = SQL_DIR_LOCK_KEY

    @property
    def table_schema(self) -> str:
        return LEDGER_SCHEMA

    @property
    def table_name(self) -> str:
        return LEDGER_TABLE

    def read_migrations(self) -> list[Migration]:
        """Every ``*.sql`` file that is not a ``*.down.sql``, sorted by file name."""
        migrations = []
        for path in sorted(self.migrations_dir.glob("*.sql")):
            if path.name.endswith(".down.sql") or not path.is_file():
                continue
            name = path.name.removesuffix(".sql")
            down = path.with_name(f"{name}.down.sql")
            migrations.append(read_migration_file(path, name, down if down.is_file() else None))
        return migrations


def looks_like_sql_dir(directory: Path) -> bool:
    """True when the folder holds .sql files directly."""
    return any(p.is_file() for p in directory.glob("*.sql"))
