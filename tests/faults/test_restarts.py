"""The server restarted (``pg_ctl restart -m fast`` and ``-m immediate``) under a running
migration-guard command, at each step of migrate, recover and ``backup create --restore-check``.

One private cluster serves the module (the shared server is never restarted); each test gets a
fresh database on it. The CLI runs as a real process; the test polls the server from outside
(pg_stat_activity, the ledger, pg_database) and fires the restart when the run reaches the step.
A step is held open where it must be: a statement sleeps while the test's *hold role* exists
(``pg_roles`` is shared, so the condition reaches shadow and scratch databases too, and dropping
the role lets the re-run pass the very same file), or a lock the test holds makes the run wait.

Afterwards: no traceback and exactly one ``error:`` line, a sane exit code, nothing half applied
(the ledger agrees with the schema, Prisma-compatible: finished / rolled back), and the re-run
finishes; after it no ``mg_shadow_*`` / ``mg_verify_*`` database and no partial dump remain.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.faults.support import (
    SQL_LEDGER,
    LedgerBlocker,
    Running,
    assert_no_duplicate_applied,
    columns,
    ledger_rows,
    recover_project,
    spawn_cli,
    states,
    status_json,
    wait_for,
)
from tests.helpers import (
    add_prisma_migration,
    make_prisma_project,
    run_cli,
    run_cli_process,
)
from tests.pg_server import RestartableServer

pytestmark = pytest.mark.faults

MODES = ("fast", "immediate")
INIT = "20240101000000_init"
NEXT = "20240102000000_next"
LATER = "20240103000000_later"
#: what each migration of the migrate scenarios adds to ``accounts``
BASE_COLUMNS = ["id", "note"]


@pytest.fixture(scope="module")
def server() -> Iterator[RestartableServer]:
    try:
        cluster = RestartableServer()
    except (RuntimeError, subprocess.CalledProcessError, FileNotFoundError, KeyError) as exc:
        pytest.skip(f"cannot start a private PostgreSQL here: {exc}")
    yield cluster
    cluster.stop()


@dataclass
class Case:
    """One test's database on the private cluster, its project folder and its hold role."""

    server: RestartableServer
    name: str
    root: Path

    @property
    def url(self) -> str:
        return self.server.url(self.name)

    @property
    def hold_role(self) -> str:
        return f"{self.name}_hold"

    def hold_sql(self, database_like: str = "%", seconds: int = 30) -> str:
        """A statement that sleeps ``seconds`` while the hold role exists and the current database
        matches ``database_like``, else returns at once."""
        return (f"SELECT pg_sleep(CASE WHEN current_database() LIKE '{database_like}' AND EXISTS "
                f"(SELECT 1 FROM pg_roles WHERE rolname = '{self.hold_role}') THEN {seconds} ELSE 0 END);\n")

    def hold(self) -> None:
        with self.connect("postgres") as conn:
            conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(self.hold_role)))

    def release(self) -> None:
        with self.connect("postgres") as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(self.hold_role)))

    def connect(self, dbname: str | None = None, timeout: float = 20) -> psycopg.Connection:
        """An autocommit connection, retried while the server (re)starts."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return psycopg.connect(self.server.url(dbname or self.name), autocommit=True, connect_timeout=3)
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def env(self, **extra: str) -> dict[str, str]:
        return {"DATABASE_URL": self.url, "BACKUP_DIR": str(self.root / "backups"),
                "ALERTS_DIR": str(self.root / "alerts"), "LOG_DIR": str(self.root / "logs"),
                "LOCK_TIMEOUT": "20s", "CONNECT_TIMEOUT": "5", **extra}

    def restart_when(self, mode: str, reached: Callable[[psycopg.Connection], Any], run: Running, what: str) -> None:
        """Poll from another connection until ``reached`` is truthy, then restart the server."""
        with self.connect() as monitor:
            wait_for(lambda: reached(monitor), running=run, timeout=60, what=what)
        self.server.restart(mode)

    def scratch_databases(self) -> list[str]:
        with self.connect("postgres") as conn:
            return [r[0] for r in conn.execute(
                "SELECT datname FROM pg_database WHERE datname ~ '^mg_(shadow|verify)_' ORDER BY 1").fetchall()]


@pytest.fixture
def case(server: RestartableServer, tmp_path: Path) -> Iterator[Case]:
    name = f"mg_rs_{uuid.uuid4().hex[:10]}"
    create_database(server, name)
    made = Case(server, name, tmp_path)
    yield made
    with made.connect("postgres") as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(made.hold_role)))
        for (scratch,) in conn.execute("SELECT datname FROM pg_database WHERE datname ~ '^mg_(shadow|verify)_'").fetchall():
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))


def create_database(server: RestartableServer, name: str, template: str = "template1") -> None:
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))


# -- what every restart must leave ---------------------------------------------------------------

#: how each command states its failure: migrate in its report (stdout; stderr carries the progress
#: log), recover in its verdict line or an ``error:`` line, backup in an ``error:`` line
ERROR_LINES = {"migrate": ("FAILED at ",), "recover": ("recover: not recovered", "recover: recovered, not verified",
                                                       "error: "),
               "backup": ("error: ",)}


def assert_one_clear_error(run: Running, command: str, code: int, expected_codes: set[int]) -> str:
    """No traceback anywhere, exactly one failure line, an expected exit code; returns the output."""
    output = run.stdout + run.stderr
    assert "Traceback" not in output, output
    assert code in expected_codes, f"exit {code}:\n{output}"
    lines = run.stdout.splitlines() if command == "migrate" else output.splitlines()
    errors = [line for line in lines if line.startswith(ERROR_LINES[command])]
    assert len(errors) == 1, f"expected exactly one failure line:\n{output}"
    return output


def assert_never_edit_advice(output: str) -> None:
    """A lost connection is not the file's fault: never advise editing the migration."""
    lowered = output.lower()
    assert "fix the statement" not in lowered, output
    assert "migration file" not in lowered or "edit" not in lowered, output


def assert_nothing_left(case: Case) -> None:
    """No scratch database on the server; every file in the backup folder is a listed, complete backup."""
    assert case.scratch_databases() == []
    folder = case.root / "backups"
    if not folder.exists():
        return
    listed = json.loads(run_cli(["backup", "list", "--json"], env=case.env(), cwd=case.root).stdout)
    listed_files = {Path(b["path"]).name for b in listed}
    for path in folder.iterdir():
        if path.name.endswith(".json") or path.is_dir() and path.name.startswith("."):
            continue
        assert path.name in listed_files, f"{path.name} is in the backup folder but is no listed backup: {listed}"


def migrated_columns(rows: list[tuple[str, bool, bool, int]], added: dict[str, list[str]]) -> list[str]:
    """The columns ``accounts`` must have when exactly the ledger's applied migrations ran."""
    applied = [name for name, finished, rolled_back, _steps in rows if finished and not rolled_back]
    return BASE_COLUMNS + [c for name in sorted(added) if name in applied for c in added[name]]


# -- migrate -------------------------------------------------------------------------------------

MIGRATE_STEPS = ("statement", "between", "backup", "verify")


INIT_SQL = "CREATE TABLE accounts (id bigint PRIMARY KEY, note text);\nCREATE TABLE side (id int);\n"
#: every migrate run skips validation (not a step under test here; it would double each run's time)
MIGRATE = ["migrate", "--skip-validate"]


@pytest.fixture(scope="module")
def migrated_template(server: RestartableServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database with INIT applied by migrate and three rows, cloned by each migrate test."""
    name = f"mg_rs_tpl_{uuid.uuid4().hex[:8]}"
    create_database(server, name)
    root = tmp_path_factory.mktemp("template")
    migrations = make_prisma_project(root, {INIT: INIT_SQL})
    done = run_cli([*MIGRATE, "--skip-backup"], env={"DATABASE_URL": server.url(name), "MIGRATIONS_DIR": str(migrations),
                                                    "ALERTS_DIR": str(root / "alerts")})
    assert done.exit_code == 0, done.output
    with psycopg.connect(server.url(name), autocommit=True) as conn:
        conn.execute("INSERT INTO accounts VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    return name


def migrate_project(case: Case, template: str) -> Path:
    """The case's database replaced by a clone of the migrated template; its migrations folder."""
    with case.connect("postgres") as conn:
        conn.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(case.name)))
    create_database(case.server, case.name, template)
    return make_prisma_project(case.root, {INIT: INIT_SQL})


def active(conn: psycopg.Connection, query_like: str, *, application: str = "migration-guard%",
           waiting: bool = False) -> bool:
    """Another session of this database is running a statement like ``query_like`` (waiting on a lock)."""
    return conn.execute(
        "SELECT application_name, query FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND state = 'active' AND application_name LIKE %s AND query ILIKE %s AND (NOT %s OR wait_event_type = 'Lock')",
        (application, query_like, waiting)).fetchone()


def finished(conn: psycopg.Connection, migration: str) -> bool:
    return conn.execute("SELECT 1 FROM _prisma_migrations WHERE migration_name = %s AND finished_at IS NOT NULL",
                        (migration,)).fetchone() is not None


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("step", MIGRATE_STEPS)
def test_migrate_restart(step: str, mode: str, case: Case, migrated_template: str) -> None:
    migrations = migrate_project(case, migrated_template)
    env = case.env(MIGRATIONS_DIR=str(migrations))
    args = [*MIGRATE, "--skip-backup"]
    added: dict[str, list[str]] = {INIT: []}
    blocker: psycopg.Connection | None = None
    gate = case.root / "verify-gate"
    if step == "statement":
        add_prisma_migration(migrations, NEXT, "ALTER TABLE accounts ADD COLUMN email text;\n" + case.hold_sql()
                             + "ALTER TABLE accounts ADD COLUMN name text;\n")
        added[NEXT] = ["email", "name"]
    elif step == "between":
        add_prisma_migration(migrations, NEXT, "ALTER TABLE accounts ADD COLUMN email text;\n")
        add_prisma_migration(migrations, LATER, "ALTER TABLE accounts ADD COLUMN name text;\n" + case.hold_sql())
        added.update({NEXT: ["email"], LATER: ["name"]})
    elif step == "backup":  # pg_dump waits for a table the test holds: the dump is in progress
        add_prisma_migration(migrations, NEXT, "ALTER TABLE accounts ADD COLUMN email text;\n")
        added[NEXT] = ["email"]
        args = MIGRATE
    elif step == "verify":  # a hook lets the test take a lock the verification's VALIDATE waits for
        add_prisma_migration(migrations, NEXT, "ALTER TABLE accounts ADD CONSTRAINT accounts_id_positive "
                                               "CHECK (id > 0) NOT VALID;\n")
        args += ["--validate-constraints", "--hook",
                 f"sh -c 'touch {gate}.open; while [ ! -e {gate}.go ]; do sleep 0.05; done'"]
    case.hold()
    if step == "backup":
        blocker = psycopg.connect(case.url)
        blocker.execute("LOCK TABLE side IN ACCESS EXCLUSIVE MODE")

    run = spawn_cli(args, env, case.root)
    try:
        if step == "statement":
            case.restart_when(mode, lambda c: active(c, "SELECT pg_sleep(CASE%", application="migration-guard migrate"), run, "the migration's statement")
        elif step == "between":
            case.restart_when(mode, lambda c: finished(c, NEXT), run, "the first migration to commit")
        elif step == "backup":
            case.restart_when(mode, lambda c: active(c, "%LOCK TABLE%", application="migration-guard-backup", waiting=True), run,
                              "pg_dump to start dumping")
        elif step == "verify":
            wait_for(Path(f"{gate}.open").exists, running=run, timeout=60, what="the post-migrate hook")
            blocker = psycopg.connect(case.url)
            blocker.execute("LOCK TABLE accounts IN SHARE UPDATE EXCLUSIVE MODE")
            Path(f"{gate}.go").touch()
            case.restart_when(mode, lambda c: active(c, "%VALIDATE CONSTRAINT%", waiting=True), run,
                              "the verification's VALIDATE CONSTRAINT")
        code = run.wait(60)
    finally:
        if run.alive:
            run.kill()
        if blocker is not None:
            blocker.close()
        case.release()

    output = assert_one_clear_error(run, "migrate", code, {1})
    assert_never_edit_advice(output)
    with case.connect() as conn:
        rows = ledger_rows(conn)
        assert_no_duplicate_applied(rows)
        assert all(finished_ or rolled_back or name != INIT for name, finished_, rolled_back, _ in rows)
        assert columns(conn, "accounts") == migrated_columns(rows, added)  # nothing half applied
    if step == "statement":
        assert f"connection to the database lost while applying {NEXT}" in output
    if step == "between":
        assert f"lost while applying {LATER}" in output and f"committed before it in this run: {NEXT}" in output
    if step == "verify":
        assert f"lost during the final verification; applied and committed in this run: {NEXT}" in output
        assert "pg_hba.conf" not in output and "rollback" not in output.lower()  # nothing to undo
    now = states(status_json(env, case.root))
    assert "running" not in now.values()
    if step == "between":
        assert now[NEXT] == "applied" and NEXT in output  # committed before the restart, and said so
    if step == "verify":
        assert now[NEXT] == "applied"  # the migration committed; only its verification was cut
    else:
        assert now.get(LATER if step == "between" else NEXT) in {"pending", "rolled_back"}, now
    if step == "backup":
        assert json.loads(run_cli(["backup", "list", "--json"], env=env, cwd=case.root).stdout) == []

    rerun = [*MIGRATE, "--skip-backup", "--validate-constraints"] if step == "verify" else args
    again = run_cli(rerun, env=env, cwd=case.root)

    assert again.exit_code == 0, again.output
    assert set(states(status_json(env, case.root)).values()) == {"applied"}
    with case.connect() as conn:
        rows = ledger_rows(conn)
        assert_no_duplicate_applied(rows)
        assert columns(conn, "accounts") == migrated_columns(rows, added)
        if step == "verify":
            assert conn.execute("SELECT convalidated FROM pg_constraint WHERE conname = 'accounts_id_positive'"
                                ).fetchone() == (True,)
    assert_nothing_left(case)


# -- recover -------------------------------------------------------------------------------------

RECOVER_STEPS = ("diagnosis", "repair", "drift")
SHADOWS = "mg\\_shadow\\_%"


def in_shadow(conn: psycopg.Connection, query_like: str) -> bool:
    """A session in one of our shadow databases is running ``query_like``."""
    return conn.execute("SELECT 1 FROM pg_stat_activity WHERE datname LIKE %s AND state = 'active' AND query LIKE %s",
                        (SHADOWS, query_like)).fetchone() is not None


def repair_waiting(conn: psycopg.Connection) -> bool:
    """The repair's ledger write waits behind the test's lock on the ledger (its transaction is open)."""
    return active(conn, "%schema_migrations%", waiting=True) is not None


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("step", RECOVER_STEPS)
def test_recover_restart(step: str, mode: str, case: Case) -> None:
    env = recover_project(case.root, case.url, base_extra=case.hold_sql(SHADOWS))
    env.update(case.env(MIGRATIONS_DIR=env["MIGRATIONS_DIR"]))
    args = ["recover", "--yes", "--no-backup"] + ([] if step == "drift" else ["--no-drift"])
    blocker = LedgerBlocker(case.url) if step in {"repair", "drift"} else None
    if step == "diagnosis":
        case.hold()

    run = spawn_cli(args, env, case.root)
    try:
        if step == "diagnosis":  # the failed migration replayed in a shadow database
            case.restart_when(mode, lambda c: in_shadow(c, "SELECT pg_sleep(CASE%"), run, "the shadow replay")
        elif step == "repair":
            case.restart_when(mode, repair_waiting, run, "the repair's ledger write")
        elif step == "drift":  # the repair commits, then the drift check's shadow replay is held
            with case.connect() as monitor:
                wait_for(lambda: repair_waiting(monitor), running=run, timeout=60, what="the repair's ledger write")
            case.hold()
            blocker.release()
            case.restart_when(mode, lambda c: in_shadow(c, "SELECT pg_sleep(CASE%"), run, "the drift check's replay")
        code = run.wait(60)
    finally:
        if run.alive:
            run.kill()
        if blocker is not None:
            blocker.release()
        case.release()

    output = assert_one_clear_error(run, "recover", code, {4} if step == "drift" else {1})
    assert_never_edit_advice(output)
    now = states(status_json(env, case.root))
    with case.connect() as conn:
        items = columns(conn, "items")
        assert_no_duplicate_applied(ledger_rows(conn, SQL_LEDGER))
    if step == "drift":  # the repair and the ledger fix committed; only the verification was cut
        assert now["0002_prices"] == "applied" and items == ["id", "sku", "qty", "price", "note"]
        assert "re-run the verification" in output
    else:  # nothing changed: the repair's transaction rolled back whole
        assert now["0002_prices"] == "failed" and items == ["id", "sku", "qty", "price"]
        assert "marked applied" not in output  # the ledger fix did not commit, and the report says so
        assert "re-run" in output
    if step == "repair":
        assert "re-run: migration-guard recover" in output

    again = run_cli(["recover", "--yes", "--no-backup"], env=env, cwd=case.root)

    assert again.exit_code == 0, again.output
    assert set(states(status_json(env, case.root)).values()) == {"applied"}
    with case.connect() as conn:
        assert columns(conn, "items") == ["id", "sku", "qty", "price", "note"]
        assert_no_duplicate_applied(ledger_rows(conn, SQL_LEDGER))
    assert_nothing_left(case)


# -- backup create --restore-check ---------------------------------------------------------------

BACKUP_STEPS = ("dump", "restore-check")
VERIFIES = "mg\\_verify\\_%"


def restoring(conn: psycopg.Connection) -> bool:
    """The restore check's COPY sleeps in a CHECK constraint inside one of our verify databases."""
    return conn.execute("SELECT 1 FROM pg_stat_activity WHERE datname LIKE %s AND state = 'active' "
                        "AND wait_event = 'PgSleep'", (VERIFIES,)).fetchone() is not None


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("step", BACKUP_STEPS)
def test_backup_restore_check_restart(step: str, mode: str, case: Case) -> None:
    env = case.env()
    with case.connect() as conn:
        conn.execute("CREATE TABLE accounts (id bigint PRIMARY KEY, note text); CREATE TABLE side (id int); "
                     "INSERT INTO accounts VALUES (1, 'kept')")
        if step == "restore-check":  # restoring a row of `paced` sleeps while the hold role exists
            hold = case.hold_sql(VERIFIES).strip().rstrip(";")
            conn.execute(f"CREATE FUNCTION restore_pace(int) RETURNS boolean LANGUAGE sql AS $$ SELECT true FROM "
                         f"({hold}) AS paced $$")
            conn.execute("CREATE TABLE paced (id int CHECK (restore_pace(id))); INSERT INTO paced VALUES (1)")
    case.hold()
    blocker = None
    if step == "dump":  # pg_dump waits for a table the test holds: the dump is in progress
        blocker = psycopg.connect(case.url)
        blocker.execute("LOCK TABLE side IN ACCESS EXCLUSIVE MODE")

    run = spawn_cli(["backup", "create", "--restore-check"], env, case.root)
    try:
        if step == "dump":
            case.restart_when(mode, lambda c: active(c, "%LOCK TABLE%", application="migration-guard-backup",
                                                     waiting=True), run, "pg_dump to start dumping")
        else:
            case.restart_when(mode, restoring, run, "the restore check's restore")
        code = run.wait(60)
    finally:
        if run.alive:
            run.kill()
        if blocker is not None:
            blocker.close()
        case.release()

    output = assert_one_clear_error(run, "backup", code, {1})
    assert_never_edit_advice(output)
    listed = json.loads(run_cli(["backup", "list", "--json"], env=env, cwd=case.root).stdout)
    if step == "dump":  # the partial dump was removed
        assert "lost its connection" in output and listed == []
        assert_nothing_left(case)
    else:  # the complete dump stays, recorded as unverified, and the advice checks it again
        assert "was cut off" in output and "take a new backup" not in output
        assert [b["verified"] for b in listed] == [False]
        path = listed[0]["path"]
        assert f"migration-guard backup verify {path} --restore-check" in output
        again = run_cli_process(["backup", "verify", path, "--restore-check"], env=env, cwd=case.root)
        assert again.exit_code == 0, again.output  # the advice, pasted, works

    again = run_cli(["backup", "create", "--restore-check", "--json"], env=env, cwd=case.root)

    assert again.exit_code == 0, again.output
    assert [b["verified"] for b in json.loads(run_cli(["backup", "list", "--json"], env=env, cwd=case.root).stdout)
            ][-1] is True
    assert_nothing_left(case)


# -- no SQLSTATE: an immediate restart under a step-by-step migration ----------------------------

def test_immediate_restart_without_sqlstate_never_blames_the_file(case: Case, migrated_template: str) -> None:
    """An immediate restart drops the connection with no SQLSTATE: neither migrate, nor status,
    nor recover's plan may advise editing the migration; migrate's re-run resumes it."""
    migrations = migrate_project(case, migrated_template)
    env = case.env(MIGRATIONS_DIR=str(migrations))
    path = add_prisma_migration(migrations, NEXT, "CREATE INDEX CONCURRENTLY accounts_note_idx ON accounts (note);\n"
                                + case.hold_sql() + "CREATE INDEX CONCURRENTLY accounts_id_note_idx ON accounts (id, note);\n")
    case.hold()
    run = spawn_cli([*MIGRATE, "--skip-backup"], env, case.root)
    try:
        case.restart_when("immediate", lambda c: active(c, "SELECT pg_sleep(CASE%", application="migration-guard migrate"),
                          run, "the step-by-step migration's second statement")
        code = run.wait(60)
    finally:
        if run.alive:
            run.kill()
        case.release()

    output = assert_one_clear_error(run, "migrate", code, {1})
    assert "consuming input failed" in output or "server closed the connection" in output  # no SQLSTATE reached us
    assert f"lost while applying {NEXT}" in output and "stopped after 1 of 3" in output
    status = run_cli(["status"], env=env, cwd=case.root)
    plan = run_cli(["recover", "--plan"], env=env, cwd=case.root)
    for text in (output, status.output, plan.output):
        assert_never_edit_advice(text)
        assert f"fix {path}" not in text
    assert "Traceback" not in plan.output and "forward" in plan.output  # it plans to finish, not to edit
    with case.connect() as conn:
        assert ledger_rows(conn)[-1] == (NEXT, False, False, 1)  # failed, resumable, exactly one step recorded

    again = run_cli([*MIGRATE, "--skip-backup"], env=env, cwd=case.root)

    assert again.exit_code == 0, again.output
    assert set(states(status_json(env, case.root)).values()) == {"applied"}
    with case.connect() as conn:
        assert ledger_rows(conn)[-1] == (NEXT, True, False, 3)
    assert_nothing_left(case)


# -- someone else's migration running during migrate's final verify ------------------------------

PRISMA_LOCK = 72707369
OTHER = "20240109000000_other_deploy"


def test_final_verify_ignores_a_migration_someone_else_is_running(case: Case, migrated_template: str) -> None:
    """Between our apply and our verify, another deploy (as Prisma does it: the migration lock, an
    unfinished ledger row, a CREATE INDEX CONCURRENTLY still building) starts a migration we do not
    have on disk: our run succeeded and says so; the other one is running, not failed, and its
    index being built is not an INVALID-index problem."""
    import threading

    migrations = migrate_project(case, migrated_template)
    env = case.env(MIGRATIONS_DIR=str(migrations))
    add_prisma_migration(migrations, NEXT, "ALTER TABLE accounts ADD COLUMN email text;\n")
    gate = case.root / "verify-gate"
    run = spawn_cli([*MIGRATE, "--skip-backup", "--hook",
                     f"sh -c 'touch {gate}.open; while [ ! -e {gate}.go ]; do sleep 0.05; done'"], env, case.root)
    other = psycopg.connect(case.url, autocommit=True, application_name="")
    writer = psycopg.connect(case.url)
    building = threading.Thread(target=lambda: other.execute(
        "CREATE INDEX CONCURRENTLY accounts_other_idx ON accounts (note)"), daemon=True)
    try:
        wait_for(Path(f"{gate}.open").exists, running=run, timeout=60, what="the post-migrate hook")
        other.execute("SELECT pg_advisory_lock(%s)", (PRISMA_LOCK,))
        other.execute("INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, applied_steps_count) "
                      "VALUES (gen_random_uuid()::text, repeat('0', 64), %s, now(), 0)", (OTHER,))
        writer.execute("INSERT INTO accounts VALUES (-1, 'open')")  # the build waits for this transaction
        building.start()
        with case.connect() as monitor:
            wait_for(lambda: monitor.execute("SELECT 1 FROM pg_stat_progress_create_index").fetchone(),
                     timeout=30, what="the other deploy's index build")
        Path(f"{gate}.go").touch()
        code = run.wait(60)
        status = status_json(env, case.root)
    finally:
        if run.alive:
            run.kill()
        writer.rollback()
        writer.close()
        building.join(30)
        other.close()

    output = run.stdout + run.stderr
    assert "Traceback" not in output
    assert code == 0, output  # our migration applied and verified
    assert "FAILED" not in run.stdout and "resolve" not in output
    assert states(status)[NEXT] == "applied"
    assert states(status)[OTHER] == "running", status  # theirs: running, never failed
    assert f"running now, not by this run (wait for it): {OTHER}" in run.stdout
    assert "being built by a live session (not debris): public.accounts_other_idx" in run.stdout


def test_the_next_migrate_drops_a_scratch_database_left_by_a_dead_run(case: Case, migrated_template: str) -> None:
    """A restore check cut off by a restart leaves its tagged ``mg_verify_*``; a later migrate with
    nothing to apply (it creates no scratch database itself) drops it."""
    import json as json_
    import socket
    from datetime import UTC, datetime

    migrations = migrate_project(case, migrated_template)
    dead = subprocess.Popen(["true"])
    dead.wait()
    leftover = f"mg_verify_{int(time.time())}_{dead.pid}_0badc0de"
    with case.connect("postgres") as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(leftover)))
        comment = "migration-guard scratch " + json_.dumps({"pid": dead.pid, "host": socket.gethostname(),
                                                            "started": datetime.now(UTC).isoformat()})
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(leftover), sql.Literal(comment)))

    done = run_cli([*MIGRATE, "--skip-backup"], env=case.env(MIGRATIONS_DIR=str(migrations)), cwd=case.root)

    assert done.exit_code == 0, done.output
    assert case.scratch_databases() == []
