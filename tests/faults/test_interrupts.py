"""Real SIGINT / SIGTERM sent to a real `migration-guard` process while it works (issue 14, items 3
and 4): Ctrl-C to the process group (three times, as an impatient operator does), a lone SIGTERM
to the CLI's pid (docker stop, Kubernetes, systemd). Each run must stop within seconds, exit 130 /
143 with one `interrupted: ...` line saying what stays committed, and leave nothing behind: no
statement of ours still running, the migration lock free, the transaction rolled back (ledger and
schema as before), no pg_dump / pg_restore process, no partial file.

The SIGINT runs start the CLI with SIGINT ignored, as a shell starts a background job
(`migration-guard migrate &` in a script): that is how the issue's Ctrl-C went unnoticed while the
migration committed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import psycopg
import pytest

from tests.faults.support import (
    LedgerBlocker, Running, advisory_holders, columns, indexes, ledger_rows, recover_project, sessions, states,
    status_json, wait_for,
)
from tests.helpers import CLI, CONFIG_VARIABLES, add_prisma_migration, make_prisma_project, run_cli, run_cli_process

pytestmark = pytest.mark.faults

PRISMA_LOCK = 72707369
INIT = "20240101000000_init"
EMAIL = "20240102000000_email"
SLOW = "20240103000000_slow"
#: sleeps 20 s in a session started with PGOPTIONS="-c mg.sleep=20" (the interrupted run), 0 s
#: otherwise (the re-run applies or resumes the very same file)
SLEEP = "SELECT pg_sleep(coalesce(nullif(current_setting('mg.sleep', true), ''), '0')::float8);\n"
SLEEPING = {"PGOPTIONS": "-c mg.sleep=20"}

#: how a test delivers the interrupt: Ctrl-C (SIGINT to the whole group, three times) or a lone
#: SIGTERM to the CLI's own pid (what `docker stop` and Kubernetes do to PID 1)
DELIVERIES = {"SIGINT": (signal.SIGINT, True, 3), "SIGTERM": (signal.SIGTERM, False, 1)}


def spawn(args: Sequence[str], env: Mapping[str, str], cwd: Path, *, ignore_sigint: bool = True) -> Running:
    """`migration-guard ARGS` in its own process group, started like a shell's background job:
    SIGINT ignored (the CLI must install its own handler)."""
    full_env = {k: v for k, v in os.environ.items() if k not in CONFIG_VARIABLES}
    full_env.update(env)
    out, err = cwd / "run.stdout", cwd / "run.stderr"

    def as_background_job() -> None:
        if ignore_sigint:
            signal.signal(signal.SIGINT, signal.SIG_IGN)

    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen([*CLI, *args], stdout=stdout, stderr=stderr, env=full_env, cwd=cwd,
                                start_new_session=True, preexec_fn=as_background_job)
    return Running(proc, out, err)


def interrupt(run: Running, delivery: str) -> float:
    """Send the signal(s); return when they were sent (monotonic)."""
    signum, group, times = DELIVERIES[delivery]
    sent = time.monotonic()
    for _ in range(times):
        if group:
            os.killpg(run.proc.pid, signum)
        else:
            os.kill(run.proc.pid, signum)
        time.sleep(0.05)
    return sent


def assert_interrupted(run: Running, delivery: str, *needles: str, within_s: float = 10) -> str:
    """Exit 128 + signal within ``within_s`` (not after the 20 s statement), no traceback, exactly one
    `interrupted:` line holding ``needles``; returns that line."""
    signum = DELIVERIES[delivery][0]
    code = run.wait(timeout=within_s)
    stderr = run.stderr
    assert code == 128 + signum, f"exit {code}\n{run.stdout[-2000:]}\n{stderr[-2000:]}"
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("interrupted:")]
    assert len(lines) == 1, stderr
    assert delivery in lines[0], lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def our_statements(conn: psycopg.Connection, like: str = "%pg_sleep%") -> list[tuple]:
    """Statements of ours (any database) still running."""
    return conn.execute(
        "SELECT pid, datname, application_name, query FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
        "AND state = 'active' AND query ILIKE %s AND (application_name LIKE 'migration-guard%%' "
        "OR application_name = 'pg_dump')", (like,)).fetchall()


def assert_nothing_of_ours_runs(conn: psycopg.Connection, like: str = "%pg_sleep%") -> None:
    """Checked right after the exit: a statement nobody cancelled would still run for seconds."""
    wait_for(lambda: not our_statements(conn, like), timeout=3, what=f"our statements ({like}) to end")


def processes_naming(text: str) -> list[int]:
    """pids of live (non-zombie) processes whose command line contains ``text`` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[-1].split()[0]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append(int(entry))
    return found


def prisma_env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return {"DATABASE_URL": db_url, "MIGRATIONS_DIR": str(tmp_path / "prisma" / "migrations"),
            "BACKUP_DIR": str(tmp_path / "backups"), "ALERTS_DIR": str(tmp_path / "alerts"),
            "LOG_DIR": str(tmp_path / "logs"), "LOCK_TIMEOUT": "2s"}


def prisma_project(tmp_path: Path, db_url: str) -> tuple[Path, dict[str, str]]:
    migrations = make_prisma_project(tmp_path, {INIT: "CREATE TABLE accounts (id bigint PRIMARY KEY, note text);\n"})
    env = prisma_env(db_url, tmp_path)
    done = run_cli(["migrate", "--skip-backup", "--skip-validate"], env=env)
    assert done.exit_code == 0, done.output
    return migrations, env


@pytest.mark.serial  # our_statements: statements of ours in any database
@pytest.mark.parametrize("delivery", ["SIGINT", "SIGTERM"])
def test_interrupted_transactional_migration_rolls_back_and_says_nothing_changed(
        delivery: str, tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    migrations, env = prisma_project(tmp_path, db_url)
    add_prisma_migration(migrations, SLOW, "ALTER TABLE accounts ADD COLUMN email text;\n" + SLEEP)
    ledger_before = ledger_rows(db)

    run = spawn(["migrate", "--skip-backup"], {**env, **SLEEPING}, tmp_path)
    wait_for(lambda: sessions(db, query_like="SELECT pg_sleep%"), running=run, what="the migration's pg_sleep")
    assert advisory_holders(db, PRISMA_LOCK)  # the run holds Prisma's migration lock
    interrupt(run, delivery)

    line = assert_interrupted(run, delivery, "nothing was changed", f"rolled back migration {SLOW}",
                              "released the migration lock")
    assert "committed" not in line
    assert_nothing_of_ours_runs(db)
    assert not advisory_holders(db, PRISMA_LOCK)
    assert ledger_rows(db) == ledger_before  # not even a rolled-back attempt row: Prisma sees it pending
    assert columns(db, "accounts") == ["id", "note"]
    assert states(status_json(env, tmp_path)) == {INIT: "applied", SLOW: "pending"}

    # nothing is left half-done: the same migration applies cleanly (without the sleep)
    again = run_cli_process(["migrate", "--skip-backup"], env=env, cwd=tmp_path)
    assert again.exit_code == 0, again.output
    assert columns(db, "accounts") == ["id", "note", "email"]


def catches(pid: int, signum: int) -> bool:
    """True once the process has a handler for ``signum`` (SigCgt in /proc/PID/status)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), 16)
    return bool(caught & (1 << (signum - 1)))


@pytest.mark.parametrize("delivery", ["SIGINT", "SIGTERM"])
def test_an_interrupt_while_the_command_starts_is_one_line_and_nothing_runs(
        delivery: str, tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    """The ~1 s of imports before the command starts: the first thing the CLI does is take the
    signals, so an interrupt there is one line (no import traceback) and the command never runs
    (an exception raised inside a library's import could be swallowed and the migration applied)."""
    migrations, env = prisma_project(tmp_path, db_url)
    add_prisma_migration(migrations, SLOW, "ALTER TABLE accounts ADD COLUMN email text;\n")
    ledger_before = ledger_rows(db)

    run = spawn(["migrate", "--skip-backup"], env, tmp_path)
    wait_for(lambda: catches(run.proc.pid, DELIVERIES[delivery][0]), timeout=10, running=run,
             what="the CLI to take the signal", interval=0.005)
    interrupt(run, delivery)

    assert_interrupted(run, delivery, "nothing was changed", "while starting")  # the imports were still running
    assert ledger_rows(db) == ledger_before
    assert columns(db, "accounts") == ["id", "note"]


@pytest.mark.serial  # our_statements: statements of ours in any database
def test_interrupt_after_a_committed_migration_names_it(tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    migrations, env = prisma_project(tmp_path, db_url)
    add_prisma_migration(migrations, EMAIL, "ALTER TABLE accounts ADD COLUMN email text;\n")
    add_prisma_migration(migrations, SLOW, "ALTER TABLE accounts ADD COLUMN name text;\n" + SLEEP)

    run = spawn(["migrate", "--skip-backup"], {**env, **SLEEPING}, tmp_path)
    wait_for(lambda: sessions(db, query_like="SELECT pg_sleep%"), running=run, what="the second migration's pg_sleep")
    interrupt(run, "SIGINT")

    line = assert_interrupted(run, "SIGINT", f"committed before the interrupt: migration {EMAIL}",
                              f"rolled back migration {SLOW}")
    assert "nothing was changed" not in line
    assert_nothing_of_ours_runs(db)
    assert not advisory_holders(db, PRISMA_LOCK)
    assert columns(db, "accounts") == ["id", "note", "email"]
    assert [r[:3] for r in ledger_rows(db)] == [(INIT, True, False), (EMAIL, True, False)]


@pytest.mark.serial  # our_statements: statements of ours in any database
def test_interrupted_step_by_step_migration_records_exactly_how_far_it_got(
        tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    migrations, env = prisma_project(tmp_path, db_url)
    add_prisma_migration(migrations, SLOW, "CREATE INDEX CONCURRENTLY accounts_note_idx ON accounts (note);\n" + SLEEP +
                         "CREATE INDEX CONCURRENTLY accounts_id_note_idx ON accounts (id, note);\n")

    run = spawn(["migrate", "--skip-backup"], {**env, **SLEEPING}, tmp_path)
    wait_for(lambda: sessions(db, query_like="SELECT pg_sleep%"), running=run, what="statement 2's pg_sleep")
    interrupt(run, "SIGTERM")

    assert_interrupted(run, "SIGTERM", f"committed before the interrupt: migration {SLOW} in part",
                       "statement 1 of 3 applied", "`migration-guard migrate` resumes there")
    assert_nothing_of_ours_runs(db)
    assert not advisory_holders(db, PRISMA_LOCK)
    assert ledger_rows(db)[-1] == (SLOW, False, False, 1)  # failed, resumable, exactly one statement applied
    logs = db.execute("SELECT logs FROM _prisma_migrations WHERE migration_name = %s", (SLOW,)).fetchone()[0]
    assert "interrupted" in logs and "applied_steps_count = 1" in logs
    assert indexes(db, "accounts") == {"accounts_pkey": True, "accounts_note_idx": True}

    again = run_cli_process(["migrate", "--skip-backup"], env=env, cwd=tmp_path)
    assert again.exit_code == 0, again.output
    assert "resuming" in again.stderr
    assert set(indexes(db, "accounts")) == {"accounts_pkey", "accounts_note_idx", "accounts_id_note_idx"}


@pytest.mark.serial  # our_statements: statements of ours in any database
def test_interrupted_recover_rolls_back_its_repair(tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    from migration_guard.tasks.ledgers.sqldir import SqlDirLedger

    env = recover_project(tmp_path, db_url)
    env["LOCK_TIMEOUT"] = "30s"
    columns_before, ledger_before = columns(db, "items"), ledger_rows(db, "migration_guard.schema_migrations")
    blocker = LedgerBlocker(db_url)  # the repair's ledger write waits: the repair is mid-transaction
    try:
        run = spawn(["recover", "--yes", "--no-drift", "--no-backup"], env, tmp_path)
        wait_for(lambda: sessions(db, query_like="%schema_migrations%", waiting_on_lock=True), running=run,
                 what="the repair's ledger write")
        interrupt(run, "SIGINT")
        assert_interrupted(run, "SIGINT", "nothing was changed", "rolled back",
                           f"released the migration lock pg_advisory_lock({SqlDirLedger.lock_key})")
        assert_nothing_of_ours_runs(db, "%schema_migrations%")
        assert not advisory_holders(db, SqlDirLedger.lock_key)
    finally:
        blocker.release()
    assert columns(db, "items") == columns_before
    assert ledger_rows(db, "migration_guard.schema_migrations") == ledger_before
    assert "items_price_idx" not in indexes(db, "items")


def big_table(db: psycopg.Connection, rows: int = 300_000) -> None:
    db.execute("CREATE TABLE big AS SELECT g AS id, md5(g::text) || repeat('x', 200) AS filler "
               "FROM generate_series(1, %s) g", (rows,))


@pytest.mark.serial  # our_statements: statements of ours in any database
@pytest.mark.parametrize("delivery", ["SIGTERM", "SIGINT"])
def test_interrupted_backup_stops_pg_dump_and_leaves_no_partial_file(
        delivery: str, tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    big_table(db)
    backups = tmp_path / "backups"
    env = {"DATABASE_URL": db_url, "BACKUP_DIR": str(backups)}

    run = spawn(["backup", "create"], env, tmp_path)
    wait_for(lambda: sessions(db, app_prefix="migration-guard-backup", query_like="COPY%big%"), running=run,
             what="pg_dump copying")
    dumpers = processes_naming(f"--file={backups}/")
    assert dumpers  # pg_dump (and its parallel workers) are writing the hidden partial dump
    interrupt(run, delivery)

    # Ctrl-C reaches pg_dump too (same group) and it may stop on its own; a lone SIGTERM only reaches us
    assert_interrupted(run, delivery, "nothing was changed", "removed the partial dump",
                       *(["stopped pg_dump"] if delivery == "SIGTERM" else []))
    wait_for(lambda: not set(dumpers) & set(processes_naming("pg_dump")), timeout=5, what="pg_dump to exit")
    assert not processes_naming(f"--file={backups}/")
    assert_nothing_of_ours_runs(db, "COPY%")
    assert sorted(p.name for p in backups.iterdir()) == []  # no .partial, no metadata
    listed = run_cli_process(["backup", "list", "--json"], env=env, cwd=tmp_path)
    assert listed.exit_code == 0 and json.loads(listed.stdout) == []
    assert listed.stderr.strip() == ""  # nothing half-written to report


def test_partial_dump_of_a_killed_run_is_reported_then_removed_by_the_next_backup(
        tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    big_table(db, 150_000)
    backups = tmp_path / "backups"
    env = {"DATABASE_URL": db_url, "BACKUP_DIR": str(backups)}
    run = spawn(["backup", "create", "--format", "custom"], env, tmp_path)
    wait_for(lambda: sessions(db, app_prefix="migration-guard-backup", query_like="COPY%big%"), running=run,
             what="pg_dump copying")
    run.kill()  # SIGKILL to the group: no handler runs, the partial dump stays
    wait_for(lambda: not processes_naming(f"--file={backups}/"), timeout=5, what="pg_dump to die")
    (partial,) = [p for p in backups.iterdir() if p.name.endswith(".partial")]

    listed = run_cli_process(["backup", "list"], env=env, cwd=tmp_path)
    assert listed.exit_code == 0, listed.output
    assert f"abandoned partial dump {partial.name}" in listed.stderr
    assert f"rm -r {partial}" in listed.stderr
    as_json = run_cli_process(["backup", "list", "--json"], env=env, cwd=tmp_path)
    assert json.loads(as_json.stdout) == []  # never offered as a backup

    created = run_cli_process(["backup", "create", "--no-verify", "--json"], env=env, cwd=tmp_path)
    assert created.exit_code == 0, created.output
    assert f"removed {partial.name}" in created.stderr
    assert not partial.exists()
    assert not [p for p in backups.iterdir() if p.name.endswith(".partial")]
    assert len(json.loads(run_cli_process(["backup", "list", "--json"], env=env, cwd=tmp_path).stdout)) == 1


def test_partial_dump_being_written_is_never_removed(tmp_path: Path) -> None:
    from migration_guard.tasks.backup.files import partial_dumps, partial_path, remove_abandoned_partials

    live = partial_path(tmp_path / "db-20260101T000000.000Z-manual.dump")  # this process: alive
    live.write_bytes(b"PGDMP")
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead = partial_path(tmp_path / "db-20260101T000001.000Z-manual.dump", gone.pid)
    dead.write_bytes(b"PGDMP")

    assert {(p.path, p.writer_alive) for p in partial_dumps(tmp_path)} == {(live, True), (dead, False)}
    assert [p.path for p in remove_abandoned_partials(tmp_path)] == [dead]
    assert live.exists() and not dead.exists()


def test_interrupted_restore_into_a_new_database_drops_it(tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    big_table(db, 250_000)
    db.execute("CREATE INDEX big_filler_idx ON big (filler)")
    env = {"DATABASE_URL": db_url, "BACKUP_DIR": str(tmp_path / "backups")}
    made = run_cli_process(["backup", "create", "--no-verify", "--json"], env=env, cwd=tmp_path)
    assert made.exit_code == 0, made.output
    dump = json.loads(made.stdout)["path"]
    target = f"mg_restore_{os.getpid()}_{int(time.time())}"

    run = spawn(["backup", "restore", dump, "--into", target], env, tmp_path)
    try:
        wait_for(lambda: db.execute("SELECT 1 FROM pg_stat_activity WHERE datname = %s AND state = 'active'",
                                    (target,)).fetchone(), running=run, what="pg_restore working")
        interrupt(run, "SIGTERM")
        assert_interrupted(run, "SIGTERM", "nothing was changed", "stopped pg_restore",
                           f"dropped the half-restored new database {target}")
        assert not db.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target,)).fetchone()
        assert not processes_naming(dump)
    finally:
        db.execute(psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(psycopg.sql.Identifier(target)))


@pytest.mark.serial  # our_statements: statements of ours in any database
def test_interrupted_healthcheck_cancels_its_checks_and_records_nothing(
        tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    config = tmp_path / "healthcheck.yaml"
    config.write_text(
        "databases:\n  - name: app\n    url_env: DATABASE_URL\n"
        "assertions:\n  - name: slow_assertion\n    database: app\n"
        "    query: SELECT count(*) FROM (SELECT pg_sleep(20)) s\n    comparison: \"==\"\n    threshold: 1\n"
        "    severity: HIGH\n    message: slow\n")
    env = {"DATABASE_URL": db_url, "HEALTHCHECK_CONFIG": str(config), "ALERTS_DIR": str(tmp_path / "alerts"),
           "LOG_DIR": str(tmp_path / "logs"), "CHECK_TIMEOUT": "60"}

    run = spawn(["healthcheck"], env, tmp_path)
    wait_for(lambda: our_statements(db), running=run, what="the slow assertion's query")
    interrupt(run, "SIGTERM")

    assert_interrupted(run, "SIGTERM", "nothing was changed")
    assert_nothing_of_ours_runs(db)
    assert not list(tmp_path.joinpath("alerts").rglob("*.json"))  # no alert for an interrupted run
    assert not (tmp_path / "logs" / "healthcheck.log").exists()


@pytest.mark.prisma
def test_after_an_interrupted_migrate_the_real_prisma_cli_deploys_cleanly(
        prisma_cli: Path, tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    migrations, env = prisma_project(tmp_path, db_url)
    add_prisma_migration(migrations, SLOW, "ALTER TABLE accounts ADD COLUMN email text;\n" + SLEEP)
    run = spawn(["migrate", "--skip-backup"], {**env, **SLEEPING}, tmp_path)
    wait_for(lambda: sessions(db, query_like="SELECT pg_sleep%"), running=run, what="the migration's pg_sleep")
    interrupt(run, "SIGINT")
    assert_interrupted(run, "SIGINT", "nothing was changed")

    prisma_env = {**os.environ, "DATABASE_URL": db_url}
    status = subprocess.run([str(prisma_cli), "migrate", "status"], cwd=tmp_path, env=prisma_env,
                            capture_output=True, text=True, timeout=120)
    assert SLOW in status.stdout and "not yet been applied" in status.stdout, status.stdout + status.stderr
    assert "failed" not in status.stdout.lower(), status.stdout  # no P3009 left for Prisma
    deployed = subprocess.run([str(prisma_cli), "migrate", "deploy"], cwd=tmp_path, env=prisma_env,
                              capture_output=True, text=True, timeout=120)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert columns(db, "accounts") == ["id", "note", "email"]
