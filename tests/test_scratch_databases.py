"""migration-guard's scratch databases are named, tagged and collected (issue 18, item 3): a
`backup create --restore-check` killed with SIGKILL mid-restore leaves its mg_verify_* database; the
healthcheck reports it, maintenance drops it; a scratch database whose creator is alive is kept."""

from __future__ import annotations

import json
import os
from pathlib import Path

import psycopg
import pytest

from migration_guard.tasks.backup.scratch import scratch_database
from migration_guard.tasks.scratch import COMMENT_TAG, collect_scratch_databases, find_scratch_databases
from tests.faults.support import spawn_cli, wait_for
from tests.helpers import run_cli

# a killed run's leftover, found and dropped server-wide: another test's restore check or maintenance
# could drop it first, and its maintenance drops every leftover on the server
pytestmark = pytest.mark.serial


def _verify_databases(conn: psycopg.Connection, pid: int) -> list[tuple[str, str | None]]:
    return conn.execute(
        "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database "
        "WHERE datname LIKE %s", (f"mg_verify_%_{pid}_%",)).fetchall()


def test_a_restore_check_killed_midway_leaves_a_tagged_database_that_maintenance_drops(
        tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    db.execute("CREATE TABLE big AS SELECT g AS id, repeat('x', 300) AS filler FROM generate_series(1, 200000) g")
    env = {"DATABASE_URL": db_url, "BACKUP_DIR": str(tmp_path / "backups"), "ALERTS_DIR": str(tmp_path / "alerts"),
           "LOG_DIR": str(tmp_path / "logs")}
    run = spawn_cli(["backup", "create", "--restore-check"], env, tmp_path)
    # CREATE DATABASE and its COMMENT are two statements (CREATE DATABASE cannot share a
    # transaction): kill once it is tagged, i.e. while the restore runs (a kill between the two
    # leaves an untagged database, collected by age instead)
    leftover = wait_for(lambda: [d for d in _verify_databases(db, run.proc.pid) if d[1]], running=run, timeout=60,
                        what="the restore check's tagged scratch database")
    run.kill()  # SIGKILL the CLI and its pg_restore, mid-restore
    name, comment = leftover[0]
    assert comment is not None and comment.startswith(COMMENT_TAG)
    assert json.loads(comment[len(COMMENT_TAG):])["pid"] == run.proc.pid
    wait_for(lambda: not db.execute("SELECT 1 FROM pg_stat_activity WHERE datname = %s", (name,)).fetchone(),
             timeout=20, what="the killed restore's sessions to end")

    health = run_cli(["healthcheck", "--json"], env)
    check = {c["check"]: c for c in json.loads(health.stdout)["checks"]}["scratch_databases"]
    assert check["status"] == "WARNING" and name in json.dumps(check)

    done = run_cli(["maintenance", "--json"], env)
    assert done.exit_code == 0, done.output
    assert any(name in line for line in json.loads(done.stdout)["scratch_databases_dropped"])
    assert not db.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()


def test_a_scratch_database_whose_creator_is_alive_is_kept(db_url: str, db: psycopg.Connection) -> None:
    with scratch_database(db_url) as name:
        assert f"_{os.getpid()}_" in name
        found = {d.name: d for d in find_scratch_databases(db)}
        assert name in found and not found[name].gone and "alive" in found[name].reason
        assert not any(name in line for line in collect_scratch_databases(db))
        assert db.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    assert not db.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
