"""Prisma Migrate's layout and ledger (``_prisma_migrations``), as Prisma 7 reads and writes them."""

from __future__ import annotations

import re
from pathlib import Path

from migration_guard.tasks.errors import MigrationFileError
from migration_guard.tasks.ledgers.base import Ledger, read_migration_file
from migration_guard.tasks.models import Migration

PRISMA_LOCK_KEY = 72707369
_PROVIDER = re.compile(r'^\s*provider\s*=\s*"([^"]*)"', re.MULTILINE)


class PrismaLedger(Ledger):
    """``prisma/migrations/<timestamp>_<name>/migration.sql`` and ``<schema>._prisma_migrations``."""

    tool = "prisma"
    lock_key = PRISMA_LOCK_KEY

    @property
    def table_schema(self) -> str:
        return self.schema

    @property
    def table_name(self) -> str:
        return "_prisma_migrations"

    def read_migrations(self) -> list[Migration]:
        """Every immediate subfolder holding migration.sql, sorted by name (Prisma's order).

        A subfolder without migration.sql is an error, as in Prisma (P3015).
        """
        self._check_lock_file()
        migrations = []
        for folder in sorted(p for p in self.migrations_dir.iterdir() if p.is_dir()):
            script = folder / "migration.sql"
            if not (script.exists() or script.is_symlink()):
                raise MigrationFileError(
                    f"migration folder {folder.name} has no migration.sql (P3015)",
                    f"restore {script} from version control; if {folder.name} is not a migration, check that "
                    f"MIGRATIONS_DIR is the folder of migrations (prisma/migrations), or move {folder.name} out of it",
                    str(folder),
                )
            down = folder / "down.sql"
            migrations.append(read_migration_file(script, folder.name, down if down.is_file() else None))
        return migrations

    def _check_lock_file(self) -> None:
        lock_file = self.migrations_dir / "migration_lock.toml"
        if not lock_file.is_file():
            return
        try:
            match = _PROVIDER.search(lock_file.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            return
        if match and match.group(1) not in {"postgresql", "postgres"}:
            raise MigrationFileError(
                f"{lock_file} says provider = {match.group(1)!r}; migration-guard works with PostgreSQL",
                "point MIGRATIONS_DIR at a PostgreSQL project",
                str(lock_file),
            )


def looks_like_prisma(directory: Path) -> bool:
    """True for a Prisma migrations folder: migration_lock.toml, subfolders with migration.sql,
    or a folder named migrations inside a folder named prisma."""
    if (directory / "migration_lock.toml").exists():
        return True
    if any((child / "migration.sql").exists() for child in directory.iterdir() if child.is_dir()):
        return True
    return directory.name == "migrations" and directory.resolve().parent.name == "prisma"
