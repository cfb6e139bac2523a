"""A scoped restore over the live database (psql running the scope's script in one transaction),
interrupted with a real SIGTERM while it copies rows: exit 143, one `interrupted:` line, psql
stopped, and the live table exactly as before the restore started (its transaction rolled back)."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from tests.faults.support import wait_for
from tests.faults.test_interrupts import assert_interrupted, big_table, interrupt, processes_naming, spawn
from tests.helpers import run_cli_process

pytestmark = pytest.mark.faults


def test_interrupted_scoped_restore_over_the_live_database_changes_nothing(tmp_path: Path, db_url: str,
                                                                           db: psycopg.Connection) -> None:
    big_table(db, 400_000)
    db.execute("CREATE TABLE other (id int); INSERT INTO other VALUES (1)")
    env = {"DATABASE_URL": db_url, "BACKUP_DIR": str(tmp_path / "backups")}
    made = run_cli_process(["backup", "create", "--table", "big", "--no-verify", "--json"], env=env, cwd=tmp_path)
    assert made.exit_code == 0, made.output
    info = json.loads(made.stdout)
    assert info["scope"]["mode"] == "scoped" and info["scope"]["tables"] == [["public", "big"]]
    db.execute("DELETE FROM big WHERE id % 2 = 0")
    before = db.execute("SELECT count(*), sum(id) FROM big").fetchone()

    run = spawn(["backup", "restore", info["path"], "--replace", "--yes"], env, tmp_path)
    wait_for(lambda: db.execute("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
                                "AND pid <> pg_backend_pid() AND query ILIKE 'COPY%big%'").fetchone(),
             running=run, what="psql copying the scoped rows")
    interrupt(run, "SIGTERM")

    assert_interrupted(run, "SIGTERM", "stopped psql", "rolled back")
    assert not processes_naming("--single-transaction")
    assert db.execute("SELECT count(*), sum(id) FROM big").fetchone() == before  # nothing changed
    assert db.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'big'").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM other").fetchone()[0] == 1
