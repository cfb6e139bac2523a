"""Shared helpers for the fault-injection tests (no tests here): the CLI as a killable process,
polling PostgreSQL from the outside for the step a run has reached, and the invariants every fault
test checks afterwards (ledger agrees with the schema, lock released, one-line errors)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psycopg

from tests.helpers import CLI, CONFIG_VARIABLES

T = TypeVar("T")

#: every session migration-guard opens carries an application_name starting with this
APP_PREFIX = "migration-guard"


@dataclass
class Running:
    """A `migration-guard` process started by a test; output goes to files (no pipe can fill up)."""

    proc: subprocess.Popen
    stdout_path: Path
    stderr_path: Path

    def wait(self, timeout: float = 90) -> int:
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL the whole process group (the CLI and any pg_dump or hook it started), as when a
        container or CI runner dies."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


def spawn_cli(args: Sequence[str], env: Mapping[str, str], cwd: Path, name: str = "run") -> Running:
    """Start `migration-guard ARGS` as its own process group."""
    full_env = {k: v for k, v in os.environ.items() if k not in CONFIG_VARIABLES}
    full_env.update(env)
    out, err = cwd / f"{name}.stdout", cwd / f"{name}.stderr"
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen([*CLI, *args], stdout=stdout, stderr=stderr, env=full_env, cwd=cwd,
                                start_new_session=True)
    return Running(proc, out, err)


def wait_for(predicate: Callable[[], T], *, timeout: float = 30, interval: float = 0.01,
             running: Running | None = None, what: str = "condition") -> T:
    """Poll ``predicate`` until it returns something truthy; fail if ``running`` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if running is not None and not running.alive:
            raise AssertionError(f"the process exited (code {running.proc.returncode}) before {what}:\n"
                                 f"{running.stdout[-2000:]}\n{running.stderr[-2000:]}")
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def sessions(conn: psycopg.Connection, *, app_prefix: str = APP_PREFIX, query_like: str = "%",
             waiting_on_lock: bool = False) -> list[tuple[int, str, str, str]]:
    """(pid, application_name, state, query) of this database's sessions matching the filters."""
    rows = conn.execute(
        "SELECT pid, application_name, coalesce(state, ''), coalesce(query, '') FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name LIKE %s "
        "AND query ILIKE %s AND (NOT %s OR wait_event_type = 'Lock') AND state = 'active'",
        (app_prefix + "%", query_like, waiting_on_lock),
    ).fetchall()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def terminate(conn: psycopg.Connection, pid: int) -> None:
    """pg_terminate_backend(pid), and wait until the backend is gone."""
    assert conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]
    wait_for(lambda: not conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone(),
             timeout=15, what=f"backend {pid} to exit")


def advisory_holders(conn: psycopg.Connection, key: int) -> list[int]:
    """pids holding the session advisory lock ``key`` in this database."""
    from migration_guard.tasks.catalog import advisory_lock_holders

    return [h.pid for h in advisory_lock_holders(conn, key)]


def wait_lock_released(conn: psycopg.Connection, key: int, timeout: float = 20) -> None:
    """The dead run's advisory lock disappears once PostgreSQL notices the closed socket."""
    wait_for(lambda: not advisory_holders(conn, key), timeout=timeout, what=f"advisory lock {key} to be released")


def wait_no_sessions(conn: psycopg.Connection, timeout: float = 20) -> None:
    """Every migration-guard session (and pg_dump) of the killed run has ended."""
    wait_for(lambda: not conn.execute(
        "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND (application_name LIKE 'migration-guard%%' OR application_name = 'pg_dump')").fetchone(),
        timeout=timeout, what="the killed run's sessions to end")


def ledger_rows(conn: psycopg.Connection, table: str = "_prisma_migrations") -> list[tuple[str, bool, bool, int]]:
    """(migration_name, finished, rolled_back, applied_steps_count) in ledger order."""
    from psycopg import sql

    name = sql.SQL(".").join(sql.Identifier(p) for p in table.split("."))
    return [tuple(r) for r in conn.execute(sql.SQL(  # type: ignore[misc]
        "SELECT migration_name, finished_at IS NOT NULL, rolled_back_at IS NOT NULL, applied_steps_count "
        "FROM {} ORDER BY started_at, migration_name").format(name)).fetchall()]


def assert_no_duplicate_applied(rows: list[tuple[str, bool, bool, int]]) -> None:
    applied = [r[0] for r in rows if r[1] and not r[2]]
    assert len(applied) == len(set(applied)), f"a migration is recorded applied twice: {rows}"


def status_json(env: Mapping[str, str], cwd: Path) -> dict[str, Any]:
    """`migration-guard status --json --all` (in-process: status never imports Prefect)."""
    from tests.helpers import run_cli

    done = run_cli(["status", "--json", "--all"], env=env, cwd=cwd)
    assert "Traceback" not in done.stderr, done.stderr
    return json.loads(done.stdout)


def states(status: dict[str, Any]) -> dict[str, str]:
    """migration name -> state from a status report."""
    return {m["name"]: m["state"] for m in status["migrations"]}


def assert_operator_error(output: str, *needles: str) -> str:
    """The failure told the operator what to do in one `error:` line (plus a hint), no traceback."""
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, f"expected exactly one error line:\n{output}"
    for needle in needles:
        assert needle in output, f"{needle!r} not in:\n{output}"
    return errors[0]


def alert_files(folder: Path) -> list[dict[str, Any]]:
    """Every alert file, parsed (a JSON error fails the test)."""
    return [json.loads(p.read_text()) for p in sorted(folder.rglob("*.json"))] if folder.exists() else []


def columns(conn: psycopg.Connection, table: str) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped "
        "ORDER BY attnum", (table,)).fetchall()]


def indexes(conn: psycopg.Connection, table: str) -> dict[str, bool]:
    """index name -> valid, for ``table``."""
    return {r[0]: r[1] for r in conn.execute(
        "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = to_regclass(%s)", (table,)).fetchall()}


def assert_backup_restores(path: Path, env: Mapping[str, str], cwd: Path, query: str, expected: Any) -> None:
    """`backup restore PATH --into NEW` succeeds and ``query`` on NEW returns ``expected``; NEW is dropped."""
    import uuid

    from psycopg import sql

    from tests.helpers import run_cli_process
    from tests.pg_server import with_database

    name = f"mg_restored_{uuid.uuid4().hex[:10]}"
    done = run_cli_process(["backup", "restore", str(path), "--into", name], env=env, cwd=cwd, timeout=120)
    try:
        assert done.exit_code == 0, done.output
        with psycopg.connect(with_database(env["DATABASE_URL"], name)) as conn:
            assert conn.execute(query).fetchone()[0] == expected
    finally:
        with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def recover_project(tmp_path: Path, db_url: str, applied_statements: int = 1, base_extra: str = "") -> dict[str, str]:
    """A SQL-folder project whose 0002 failed after ``applied_statements`` statements because its
    connection was killed (the cause is gone, so recover goes forward); returns the CLI env.
    ``base_extra`` is appended to 0001 (replayed in every shadow database)."""
    from migration_guard.tasks.settings import load_settings
    from migration_guard.tasks.project import Project
    from migration_guard.tasks.sql.statements import split_statements
    from tests.helpers import make_sql_project

    directory = make_sql_project(tmp_path, {"0001_base": "CREATE TABLE items (id int PRIMARY KEY, sku text, qty int);\n"
                                                         + base_extra,
                                            "0002_prices": RECOVER_FAILING})
    project = Project.from_settings(load_settings(database_url=db_url, migrations_dir=directory))
    base, change = project.ledger.read_migrations()
    with psycopg.connect(db_url, autocommit=True) as conn:
        project.ledger.ensure_table(conn)
        conn.execute(base.sql)
        project.ledger.record_finished(conn, project.ledger.record_started(conn, base))
        conn.execute("INSERT INTO items VALUES (1, 'a', 1), (2, 'b', 2)")
        entry = project.ledger.record_started(conn, change)
        for statement in split_statements(change.sql)[:applied_statements]:
            conn.execute(statement.text)
        project.ledger.record_failed(conn, entry, f"statement {applied_statements + 1} failed: terminating connection "
                                                  "due to administrator command (SQLSTATE 57P01)")
    return {"DATABASE_URL": db_url, "MIGRATIONS_DIR": str(directory), "BACKUP_DIR": str(tmp_path / "backups"),
            "ALERTS_DIR": str(tmp_path / "alerts"), "LOCK_TIMEOUT": "30s"}


RECOVER_FAILING = """\
ALTER TABLE items ADD COLUMN price numeric(10,2);
CREATE INDEX items_price_idx ON items (price);
ALTER TABLE items ADD COLUMN note text;
"""
SQL_LEDGER = "migration_guard.schema_migrations"


class LedgerBlocker:
    """Holds EXCLUSIVE on the ledger table in an open transaction: reads pass, but the write that
    fixes the ledger (inside the repair's transaction, after its statements) waits — a window
    where the repair is mid-transaction."""

    def __init__(self, db_url: str, table: str = SQL_LEDGER) -> None:
        from psycopg import sql

        self.conn = psycopg.connect(db_url)
        self.conn.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(
            sql.SQL(".").join(sql.Identifier(p) for p in table.split("."))))

    def release(self) -> None:
        if not self.conn.closed:
            try:
                self.conn.rollback()
            except psycopg.OperationalError:  # the server restarted under it: the lock went with it
                pass
            self.conn.close()


class TinyDisks:
    """Tiny tmpfs folders (64 KiB): filled up to ENOSPC, or remounted read-only. Needs root and
    mount permission (the fixture skips with the reason otherwise); always unmounted."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.mounted: list[Path] = []

    def mount(self, name: str, size: str = "64k") -> Path:
        point = self.root / name
        point.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(point)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            import pytest

            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        self.mounted.append(point)
        return point

    @staticmethod
    def fill(point: Path) -> Path:
        """Write a filler file until the disk is full; return it (delete it to free the space)."""
        filler = point / "filler"
        with filler.open("wb", buffering=0) as handle:
            for size in (65536, 4096, 512, 1):
                try:
                    while True:
                        handle.write(b"\0" * size)
                except OSError:
                    pass
        return filler

    @staticmethod
    def read_only(point: Path, on: bool = True) -> None:
        mode = "remount,ro" if on else "remount,rw"
        subprocess.run(["mount", "-o", mode, str(point)], check=True, capture_output=True)

    def unmount_all(self) -> None:
        for point in reversed(self.mounted):
            if subprocess.run(["umount", str(point)], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", str(point)], capture_output=True)
        self.mounted.clear()


@contextmanager
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers: every request times out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    finally:
        listener.close()
        for conn in held:
            conn.close()


def sessions_all(conn: psycopg.Connection) -> list[tuple[int, str, str, str]]:
    """(pid, application_name, state, query) of every other session of this database."""
    return [tuple(r) for r in conn.execute(  # type: ignore[misc]
        "SELECT pid, application_name, coalesce(state, ''), coalesce(query, '') FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'").fetchall()]
