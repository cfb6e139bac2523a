"""Scoped pre-migrate backups on a real project's history (documenso, tests/data/documenso/README.md),
deployed by the real Prisma CLI: safe-migrate applies the 129-statement data migration
`add_organisations` with BACKUP_SCOPE=scoped, the start-up check fails, `--on-failure restore` puts
the scoped backup back (dropping the tables the migration created, whose foreign keys to "User"
would block it) — every table's rows and the ledger are as before, and Prisma deploys it again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import psycopg
import pytest

from tests.test_recover_support import Scenario

pytestmark = [pytest.mark.prisma, pytest.mark.slow]

DATA = Path(__file__).parent / "data" / "documenso"
TARGET = "20250522054050_add_organisations"


def _tables(conn: psycopg.Connection) -> dict[str, tuple[int, str]]:
    """Every public table's (row count, md5 of its rows in a stable order)."""
    result = {}
    for (name,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1").fetchall():
        row = conn.execute(psycopg.sql.SQL("SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
                                           "FROM {} t").format(psycopg.sql.Identifier(name))).fetchone()
        result[name] = (row[0], row[1])
    return result


def test_documenso_scoped_backup_restores_after_a_failed_startup_check(tmp_path: Path, db_url: str,
                                                                       prisma_cli: Path) -> None:
    scenario = Scenario(tmp_path, db_url, prisma_cli)
    names = sorted(p.name for p in (DATA / "prisma" / "migrations").iterdir() if p.is_dir())
    for name in [n for n in names if n <= TARGET]:
        shutil.copytree(DATA / "prisma" / "migrations" / name, scenario.migrations_dir / name, dirs_exist_ok=True)
    shutil.rmtree(scenario.migrations_dir / TARGET)
    assert scenario.deploy().returncode == 0
    scenario.sql((DATA / "rows.sql").read_text())
    shutil.copytree(DATA / "prisma" / "migrations" / TARGET, scenario.migrations_dir / TARGET)
    with psycopg.connect(db_url) as conn:
        before = _tables(conn)

    result = scenario.cli("migrate", "--json", "--skip-validate", "--on-failure", "restore", "--startup-check-command", "false",
                          env={"BACKUP_SCOPE": "scoped"})

    report = json.loads(result.stdout)
    assert report["backup"], (report.get("failed_stage"), report.get("error"))
    scope = report["backup"]["scope"]
    assert scope["mode"] == "scoped", scope
    covered = {t for _, t in scope["tables"]}
    assert {"User", "Team", "_prisma_migrations"} <= covered and len(covered) < len(before)
    assert report["restored"] and report["restored"].get("replaced"), (report["restored"], report["recovery"][:2])
    with psycopg.connect(db_url) as conn:
        after = _tables(conn)
    assert after == before  # every table's rows; the tables the migration created are gone again
    assert {tuple(t) for t in scope["created_tables"]} >= {("public", "Organisation")}
    status = scenario.prisma_status()
    assert status.returncode != 0 and TARGET in status.stdout + status.stderr  # pending again: the ledger is back
    again = scenario.deploy()
    assert again.returncode == 0, (again.stdout + again.stderr)[-1500:]  # and the real Prisma CLI deploys it again over the restored database


def test_documenso_restore_over_live_keeps_a_view_and_a_foreign_key_made_after_the_backup(
        tmp_path: Path, db_url: str, prisma_cli: Path) -> None:
    scenario = Scenario(tmp_path, db_url, prisma_cli)
    names = sorted(p.name for p in (DATA / "prisma" / "migrations").iterdir() if p.is_dir())
    for name in [n for n in names if n < TARGET]:
        shutil.copytree(DATA / "prisma" / "migrations" / name, scenario.migrations_dir / name)
    assert scenario.deploy().returncode == 0
    scenario.sql((DATA / "rows.sql").read_text())
    shutil.copytree(DATA / "prisma" / "migrations" / TARGET, scenario.migrations_dir / TARGET)
    with psycopg.connect(db_url) as conn:
        before = _tables(conn)

    migrated = json.loads(scenario.cli("migrate", "--json", "--skip-validate", env={"BACKUP_SCOPE": "scoped"}).stdout)
    assert migrated["ok"] and migrated["backup"]["scope"]["mode"] == "scoped", migrated.get("error")
    # after the backup and the migration, a DBA adds a report view on "User" and a table whose foreign key points at it
    scenario.sql('CREATE VIEW user_signups AS SELECT id, email, "createdAt" FROM "User"')
    scenario.sql('CREATE TABLE audit_note (id serial PRIMARY KEY, "userId" int NOT NULL, body text)')
    scenario.sql('INSERT INTO audit_note ("userId", body) SELECT id, \'checked\' FROM "User" ORDER BY id LIMIT 3')
    scenario.sql('ALTER TABLE audit_note ADD CONSTRAINT audit_note_user_fk FOREIGN KEY ("userId") REFERENCES "User"(id) '
                 "ON DELETE CASCADE")
    with psycopg.connect(db_url) as conn:
        view_sql = conn.execute("SELECT definition FROM pg_views WHERE viewname = 'user_signups'").fetchone()[0]
        notes = _tables(conn)["audit_note"]

    restored = scenario.cli("backup", "restore", migrated["backup"]["path"], "--replace", "--yes")

    assert restored.exit_code == 0, restored.output[-1500:]
    assert "kept (made after the backup" in restored.output and "view public.user_signups" in restored.output
    with psycopg.connect(db_url) as conn:
        after = _tables(conn)
        assert conn.execute("SELECT definition FROM pg_views WHERE viewname = 'user_signups'").fetchone()[0] == view_sql
        assert conn.execute("SELECT count(*) FROM user_signups").fetchone()[0] == before["User"][0]
        assert conn.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'audit_note_user_fk'"
                            ).fetchone()[0] == 'FOREIGN KEY ("userId") REFERENCES "User"(id) ON DELETE CASCADE'
    assert after.pop("audit_note") == notes
    assert after == before  # every documenso table as before the migration; the ones it created are gone
    status = scenario.prisma_status()
    assert status.returncode != 0 and TARGET in status.stdout + status.stderr
