"""The ledger interface and the table both built-in ledgers share.

Prisma's ``_prisma_migrations`` and our ``migration_guard.schema_migrations`` have the same columns
(id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
and the same rules, so one class writes both; subclasses say where the table and the files are.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from pathlib import Path

import psycopg
from psycopg import sql

from migration_guard.tasks.checksums import line_ending_variants, sha256_hex
from migration_guard.tasks.errors import LedgerError, MigrationFileError
from migration_guard.tasks.models import LedgerEntry, Migration

_COLUMNS = ("id", "checksum", "finished_at", "migration_name", "logs", "rolled_back_at",
            "started_at", "applied_steps_count")


class Ledger(ABC):
    """Reads migrations from disk and the ledger from the database; writes the ledger exactly
    the way the tool itself does, so the tool's own CLI agrees afterwards."""

    tool: str
    #: key of the session advisory lock the tool takes while migrating
    lock_key: int

    def __init__(self, migrations_dir: Path, schema: str = "public") -> None:
        self.migrations_dir = Path(migrations_dir)
        self.schema = schema

    # ---- disk
    @abstractmethod
    def read_migrations(self) -> list[Migration]:
        """Every migration on disk, in apply order.

        Raises:
            MigrationFileError: unreadable file, non-UTF-8 text, malformed layout.
        """

    # ---- where the table lives
    @property
    @abstractmethod
    def table_schema(self) -> str: ...

    @property
    @abstractmethod
    def table_name(self) -> str: ...

    @property
    def qualified_table(self) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self.table_schema), sql.Identifier(self.table_name))

    @property
    def display_table(self) -> str:
        return f"{self.table_schema}.{self.table_name}"

    # ---- reading
    def table_exists(self, conn: psycopg.Connection) -> bool:
        """True when the ledger table exists."""
        row = conn.execute(
            "SELECT to_regclass(format('%%I.%%I', %s::text, %s::text)) IS NOT NULL",
            (self.table_schema, self.table_name),
        ).fetchone()
        return bool(row and row[0])

    def read_entries(self, conn: psycopg.Connection) -> list[LedgerEntry]:
        """All ledger rows ordered by started_at (empty when the table does not exist yet)."""
        if not self.table_exists(conn):
            return []
        query = sql.SQL(
            "SELECT id, migration_name, checksum, started_at, finished_at, rolled_back_at, "
            "applied_steps_count, logs FROM {} ORDER BY started_at, migration_name"
        ).format(self.qualified_table)
        try:
            rows = conn.execute(query).fetchall()
        except psycopg.errors.UndefinedColumn as exc:
            raise LedgerError(
                f"the ledger table {self.display_table} does not have the expected columns: {exc.diag.message_primary}",
                "it was not created by this tool; check MIGRATION_TOOL and DB_SCHEMA",
            ) from None
        return [LedgerEntry(str(r[0]), r[1], r[2], r[3], r[4], r[5], int(r[6]), r[7]) for r in rows]

    # ---- writing (each call is one statement; the caller owns the transaction)
    def ensure_table(self, conn: psycopg.Connection) -> None:
        """Create the ledger table (and its schema) if missing, with the tool's own DDL."""
        if self.table_schema != "public":
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.table_schema)))
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                " id VARCHAR(36) PRIMARY KEY NOT NULL,"
                " checksum VARCHAR(64) NOT NULL,"
                " finished_at TIMESTAMPTZ,"
                " migration_name VARCHAR(255) NOT NULL,"
                " logs TEXT,"
                " rolled_back_at TIMESTAMPTZ,"
                " started_at TIMESTAMPTZ NOT NULL DEFAULT now(),"
                " applied_steps_count INTEGER NOT NULL DEFAULT 0)"
            ).format(self.qualified_table)
        )

    def record_started(self, conn: psycopg.Connection, migration: Migration) -> str:
        """Insert the row Prisma writes when it starts a migration; return its id."""
        entry_id = str(uuid.uuid4())
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (id, checksum, migration_name, started_at, applied_steps_count) "
                "VALUES (%s, %s, %s, now(), 0)"
            ).format(self.qualified_table),
            (entry_id, migration.checksum, migration.name),
        )
        return entry_id

    def record_step(self, conn: psycopg.Connection, entry_id: str, applied_steps_count: int) -> None:
        """Record how many steps of a migration have been applied (resumable progress)."""
        conn.execute(
            sql.SQL("UPDATE {} SET applied_steps_count = %s WHERE id = %s").format(self.qualified_table),
            (applied_steps_count, entry_id),
        )

    def record_finished(self, conn: psycopg.Connection, entry_id: str, applied_steps_count: int = 1) -> None:
        """Mark a migration finished, as a successful deploy does (finished_at now, logs NULL).

        ``clock_timestamp()``, not ``now()``: inside the migration's own transaction ``now()`` is when
        it started, and the ledger would show every migration taking no time."""
        conn.execute(
            sql.SQL(
                "UPDATE {} SET finished_at = clock_timestamp(), applied_steps_count = %s WHERE id = %s"
            ).format(self.qualified_table),
            (applied_steps_count, entry_id),
        )

    def record_failed(self, conn: psycopg.Connection, entry_id: str, logs: str) -> None:
        """Store the error of a failed attempt; the row stays unfinished (Prisma's failed state)."""
        conn.execute(
            sql.SQL("UPDATE {} SET logs = %s WHERE id = %s").format(self.qualified_table),
            (logs, entry_id),
        )

    def record_rolled_back_attempt(self, conn: psycopg.Connection, migration: Migration, logs: str) -> str:
        """Insert a row for an attempt whose transaction rolled back: Prisma reads it as not applied."""
        entry_id = str(uuid.uuid4())
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (id, checksum, migration_name, started_at, rolled_back_at, logs, "
                "applied_steps_count) VALUES (%s, %s, %s, now(), now(), %s, 0)"
            ).format(self.qualified_table),
            (entry_id, migration.checksum, migration.name, logs),
        )
        return entry_id

    def mark_rolled_back(self, conn: psycopg.Connection, name: str) -> int:
        """``prisma migrate resolve --rolled-back NAME``: set rolled_back_at on its failed rows.

        Raises:
            LedgerError: P3011 when NAME was never attempted, P3012 when it is not failed.
        """
        entries = [e for e in self.read_entries(conn) if e.migration_name == name]
        if not entries:
            raise LedgerError(
                f"migration {name} cannot be rolled back because it was never applied to the database (P3011)",
                "check the name with: migration-guard status",
            )
        if not any(e.is_failed for e in entries):
            raise LedgerError(
                f"migration {name} cannot be rolled back because it is not in a failed state (P3012)",
                "only failed migrations can be marked rolled back; see: migration-guard status",
            )
        cur = conn.execute(
            sql.SQL(
                "UPDATE {} SET rolled_back_at = now() "
                "WHERE migration_name = %s AND finished_at IS NULL AND rolled_back_at IS NULL RETURNING 1"
            ).format(self.qualified_table),
            (name,),
        )
        return len(cur.fetchall())  # counted from RETURNING: rowcount is -1 in pipeline mode

    def mark_applied(self, conn: psycopg.Connection, migration: Migration) -> str:
        """``prisma migrate resolve --applied NAME``: roll back its failed rows, insert an applied row.

        Raises:
            LedgerError: P3008 when the migration is already applied.
        """
        entries = [e for e in self.read_entries(conn) if e.migration_name == migration.name]
        if any(e.is_applied for e in entries):
            raise LedgerError(
                f"migration {migration.name} is already recorded as applied in the database (P3008)",
                "nothing to resolve; see: migration-guard status",
            )
        conn.execute(
            sql.SQL(
                "UPDATE {} SET rolled_back_at = now() "
                "WHERE migration_name = %s AND finished_at IS NULL AND rolled_back_at IS NULL"
            ).format(self.qualified_table),
            (migration.name,),
        )
        entry_id = str(uuid.uuid4())
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (id, checksum, migration_name, started_at, finished_at, logs, "
                "applied_steps_count) VALUES (%s, %s, %s, now(), now(), '', 0)"
            ).format(self.qualified_table),
            (entry_id, migration.checksum, migration.name),
        )
        return entry_id


def read_migration_file(path: Path, name: str, down_path: Path | None = None) -> Migration:
    """Read one migration file into a :class:`Migration` with its checksums.

    Raises:
        MigrationFileError: the file is unreadable or not UTF-8.
    """
    data = _read_bytes(path)
    text = _decode(data, path)
    down_sql = _decode(_read_bytes(down_path), down_path) if down_path is not None else None
    return Migration(
        name=name,
        path=path,
        sql=text,
        checksum=sha256_hex(data),
        checksums_accepted=line_ending_variants(data),
        down_sql=down_sql,
        down_path=down_path,
    )


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except PermissionError:
        raise MigrationFileError(
            f"cannot read {path}: permission denied", f"fix its permissions: chmod a+r {path}", str(path)
        ) from None
    except IsADirectoryError:
        raise MigrationFileError(f"{path} is a folder, expected a file", "remove or rename it", str(path)) from None
    except OSError as exc:
        raise MigrationFileError(f"cannot read {path}: {exc.strerror}", "check the file", str(path)) from None


def _decode(data: bytes, path: Path) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise MigrationFileError(
            f"{path} is not valid UTF-8 (byte {exc.start}, line {line})",
            f"re-save it as UTF-8, e.g.: iconv -f latin1 -t utf-8 {path} -o {path}.utf8 && mv {path}.utf8 {path}",
            str(path),
        ) from None
