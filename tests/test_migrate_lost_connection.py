"""safe-migrate after a lost connection (issue 18, item 2): the report names the migration in flight,
lists exactly what committed before it (read back from the ledger), advises re-running (which
resumes) and never editing the file; the alert does not say "nothing was changed"."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg

from tests.faults.support import spawn_cli, wait_for
from tests.helpers import make_prisma_project, run_cli

FIRST, SECOND, THIRD = "20240101000000_first", "20240102000000_second", "20240103000000_third"


def test_backend_terminated_mid_migration_names_it_and_what_committed(tmp_path: Path, db_url: str,
                                                                        db: psycopg.Connection) -> None:
    make_prisma_project(tmp_path, {FIRST: "CREATE TABLE a (id int);\n",
                                   SECOND: "CREATE TABLE b (id int);\nSELECT pg_sleep(CASE WHEN to_regclass('rerun_marker') "
                                           "IS NULL THEN 30 ELSE 0 END);\n",
                                   THIRD: "CREATE TABLE c (id int);\n"})
    env = {"DATABASE_URL": db_url, "MIGRATIONS_DIR": str(tmp_path / "prisma" / "migrations"),
           "BACKUP_DIR": str(tmp_path / "backups"), "ALERTS_DIR": str(tmp_path / "alerts"),
           "LOG_DIR": str(tmp_path / "logs")}
    run = spawn_cli(["migrate", "--skip-backup", "--json"], env, tmp_path)
    pid = wait_for(lambda: (db.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'migration-guard migrate' "
        "AND query LIKE '%pg_sleep(%' AND state = 'active'").fetchone() or [None])[0],
        running=run, timeout=30, what="the second migration to run")
    db.execute("SELECT pg_terminate_backend(%s)", (pid,))
    assert run.wait(60) == 1
    report = json.loads(run.stdout)

    assert report["lost_connection"]["in_flight"] == SECOND
    assert report["lost_connection"]["committed"] == [FIRST] and report["committed"] is True
    assert f"connection to the database lost while applying {SECOND}" in report["error"]
    assert f"committed before it in this run: {FIRST}" in report["error"]
    advice = " ".join([report["suggestion"], *report["recovery"]])
    assert "re-run: migration-guard migrate" in advice and "fix the statement" not in advice
    assert "fix " not in report["suggestion"]
    alerts = [json.loads(p.read_text()) for p in (tmp_path / "alerts").glob("*.json")]
    assert alerts and all("nothing was changed" not in json.dumps(a) for a in alerts)
    assert any(FIRST in json.dumps(a) and SECOND in json.dumps(a) for a in alerts)

    db.execute("CREATE TABLE rerun_marker ()")  # the re-run's sleep is 0 s; the file itself is unchanged
    rerun = run_cli(["migrate", "--skip-backup", "--json"], env)
    assert rerun.exit_code == 0, rerun.output
    assert json.loads(rerun.stdout)["applied"] == [SECOND, THIRD]
