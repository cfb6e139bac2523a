"""Disk full for backups, logs and alert files, and a read-only alert folder, on real tiny tmpfs
mounts. The healthcheck still completes with the right exit code, the files that exist stay valid
JSON, an alert that could not be saved is reported and saved by the next run, and safe-migrate
stops before touching the database when its backup cannot be written."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.faults.support import TinyDisks, alert_files, states, status_json
from tests.helpers import make_prisma_project, run_cli_process

pytestmark = pytest.mark.faults

FAILING_ASSERTION = (
    "databases:\n  - name: app\n    url_env: DATABASE_URL\n"
    "assertions:\n  - name: orphans\n    database: app\n    query: SELECT count(*) FROM orphans\n"
    "    comparison: \"==\"\n    threshold: 0\n    severity: HIGH\n    message: orphan rows\n")


@pytest.fixture
def disks(tmp_path: Path) -> Iterator[TinyDisks]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    tiny = TinyDisks(tmp_path / "mnt")
    try:
        yield tiny
    finally:
        tiny.unmount_all()


def healthcheck_env(db_url: str, tmp_path: Path, alerts: Path, logs: Path) -> dict[str, str]:
    config = tmp_path / "healthcheck.yaml"
    config.write_text(FAILING_ASSERTION)
    return {"DATABASE_URL": db_url, "HEALTHCHECK_CONFIG": str(config), "ALERTS_DIR": str(alerts),
            "LOG_DIR": str(logs)}


def healthcheck(env: dict[str, str], tmp_path: Path) -> tuple[int, dict, str]:
    done = run_cli_process(["healthcheck", "--json"], env=env, cwd=tmp_path, timeout=90)
    assert "Traceback" not in done.stderr, done.stderr
    return done.exit_code, json.loads(done.stdout), done.stderr


def log_records(logs: Path) -> list[dict]:
    path = logs / "healthcheck.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_migrate_with_a_full_backup_disk_changes_nothing(tmp_path: Path, db_url: str, db: psycopg.Connection,
                                                         disks: TinyDisks) -> None:
    backups = disks.mount("backups")
    disks.fill(backups)
    db.execute("CREATE TABLE accounts (id bigint PRIMARY KEY, note text)")
    db.execute("INSERT INTO accounts SELECT g, repeat('x', 100) FROM generate_series(1, 2000) g")
    migrations = make_prisma_project(tmp_path, {"20240101000000_add": "ALTER TABLE accounts ADD COLUMN email text;\n"})
    env = {"DATABASE_URL": db_url, "MIGRATIONS_DIR": str(migrations), "BACKUP_DIR": str(backups),
           "ALERTS_DIR": str(tmp_path / "alerts")}

    done = run_cli_process(["migrate", "--json"], env=env, cwd=tmp_path)

    assert done.exit_code == 1, done.output
    report = json.loads(done.stdout)
    assert report["failed_stage"] in {"validate", "backup"}
    text = json.dumps(report).lower()
    assert "space" in text and "backup" in text
    assert "email" not in [r[0] for r in db.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = 'accounts'::regclass AND attnum > 0")]
    assert states(status_json(env, tmp_path)) == {"20240101000000_add": "pending"}
    assert sorted(p.name for p in backups.iterdir()) == ["filler"]  # no partial dump left behind
    assert alert_files(tmp_path / "alerts")


def test_healthcheck_with_full_alert_and_log_disks_completes_and_catches_up(
    tmp_path: Path, db_url: str, db: psycopg.Connection, disks: TinyDisks
) -> None:
    db.execute("CREATE TABLE orphans (id int)")
    db.execute("INSERT INTO orphans VALUES (1)")
    alerts, logs = disks.mount("alerts"), disks.mount("logs")
    env = healthcheck_env(db_url, tmp_path, alerts, logs)
    code, first, _ = healthcheck(env, tmp_path)  # room: the alert and the log are written
    assert code == 2
    saved = alert_files(alerts)
    assert [a["check"] for a in saved] == ["assertion:orphans"]
    assert len(log_records(logs)) == len(first["checks"])

    fillers = [disks.fill(alerts), disks.fill(logs)]
    db.execute("CREATE TABLE more_orphans (id int)")
    (tmp_path / "healthcheck.yaml").write_text(FAILING_ASSERTION + (
        "  - name: more_orphans\n    database: app\n    query: SELECT count(*) FROM orphans\n"
        "    comparison: \"<\"\n    threshold: 0\n    severity: HIGH\n    message: more orphan rows\n"))
    code, full, stderr = healthcheck(env, tmp_path)

    assert code == 2  # the health verdict does not depend on the disk
    assert {a["check"] for a in full["alerts"]["firing"]} == {"assertion:orphans", "assertion:more_orphans"}
    assert full["alerts"]["unsaved"], full["alerts"]  # the operator is told the alert was not saved
    assert "No space left" in json.dumps(full["alerts"]["unsaved"])
    assert [a["id"] for a in alert_files(alerts)] == [a["id"] for a in saved]  # old file intact, valid JSON
    assert len(log_records(logs)) == len(first["checks"])  # no torn line in the JSON-lines log
    assert "healthcheck.log" in stderr

    for filler in fillers:
        filler.unlink()
    code, caught_up, _ = healthcheck(env, tmp_path)

    assert code == 2
    assert {a["check"] for a in alert_files(alerts)} == {"assertion:orphans", "assertion:more_orphans"}
    assert not caught_up["alerts"].get("unsaved")
    assert len(log_records(logs)) == len(first["checks"]) + len(caught_up["checks"])


def test_read_only_alert_folder(tmp_path: Path, db_url: str, db: psycopg.Connection, disks: TinyDisks) -> None:
    db.execute("CREATE TABLE orphans (id int)")
    db.execute("INSERT INTO orphans VALUES (1)")
    alerts = disks.mount("alerts")
    env = healthcheck_env(db_url, tmp_path, alerts, tmp_path / "logs")
    assert healthcheck(env, tmp_path)[0] == 2
    before = alert_files(alerts)
    disks.read_only(alerts)
    db.execute("DELETE FROM orphans")  # the problem is fixed: the alert should resolve

    code, report, _ = healthcheck(env, tmp_path)

    assert code == 0
    assert report["alerts"]["unsaved"] and "Read-only" in json.dumps(report["alerts"]["unsaved"])
    assert alert_files(alerts) == before  # untouched, still valid JSON
    text = run_cli_process(["healthcheck"], env=env, cwd=tmp_path)
    assert "1 alert(s) not saved" in text.stdout and "Read-only file system" in text.stdout, text.output
    listed = run_cli_process(["alerts", "list", "--json"], env=env, cwd=tmp_path)
    assert listed.exit_code == 0 and "Traceback" not in listed.stderr

    disks.read_only(alerts, on=False)
    code, report, _ = healthcheck(env, tmp_path)

    assert code == 0
    assert [a["status"] for a in alert_files(alerts)] == ["resolved"]  # the resolution caught up


def test_recover_with_a_full_backup_disk_changes_nothing(tmp_path: Path, db_url: str, db: psycopg.Connection,
                                                         disks: TinyDisks) -> None:
    from tests.faults.support import assert_operator_error, columns, recover_project

    env = recover_project(tmp_path, db_url)
    backups = disks.mount("backups")
    disks.fill(backups)
    env["BACKUP_DIR"] = str(backups)

    done = run_cli_process(["recover", "--yes", "--no-drift"], env=env, cwd=tmp_path)

    assert done.exit_code == 1, done.output
    assert_operator_error(done.stderr, "free", "BACKUP_DIR")  # one line: why, and where to make room
    assert columns(db, "items") == ["id", "sku", "qty", "price"]  # nothing ran without its backup
    assert states(status_json(env, tmp_path))["0002_prices"] == "failed"
    assert sorted(p.name for p in backups.iterdir()) == ["filler"]
    alert_files(tmp_path / "alerts")
