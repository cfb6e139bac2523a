"""Running pg_dump / pg_restore: the connection goes in as a password-less conninfo, the password
through ``PGPASSWORD`` in the child's environment (never argv, never logs), and failures come back
as one redacted line."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import psycopg
from psycopg import conninfo as pg_conninfo

from migration_guard.tasks import interrupts
from migration_guard.tasks.db import libpq_dsn
from migration_guard.tasks.secrets import passwords_in, redact

TOOL_APPLICATION_NAME = "migration-guard-backup"


@dataclass(frozen=True)
class ClientConnection:
    """How a child tool connects: a conninfo without password, and the environment carrying it."""

    conninfo: str
    env: dict[str, str]
    secrets: tuple[str, ...]


def client_connection(dsn: str, *, dbname: str | None = None, connect_timeout: int = 10) -> ClientConnection:
    """Split ``dsn`` into a password-less conninfo for ``--dbname`` and a child environment.

    Args:
        dsn: URL or keyword DSN (Prisma-only URL parameters are dropped).
        dbname: connect to this database instead of the DSN's.
        connect_timeout: libpq connect_timeout for the child, unless the DSN sets one.
    """
    try:
        params = {k: str(v) for k, v in pg_conninfo.conninfo_to_dict(libpq_dsn(dsn)).items() if v is not None}
    except psycopg.ProgrammingError:
        params = {}
    password = params.pop("password", None)
    if dbname is not None:
        params["dbname"] = dbname
    params.setdefault("application_name", TOOL_APPLICATION_NAME)
    params.setdefault("connect_timeout", str(connect_timeout))
    env = dict(os.environ)  # an inherited PGPASSWORD / PGPASSFILE keeps working
    if password:
        env["PGPASSWORD"] = password
    return ClientConnection(pg_conninfo.make_conninfo(**params), env, tuple(passwords_in(dsn)))


@dataclass(frozen=True)
class ToolRun:
    """The outcome of one tool process."""

    returncode: int
    stderr: str  # redacted
    duration_s: float
    stdout: str = ""  # only when captured

    @property
    def first_error(self) -> str:
        """The most telling stderr line (the first ``error:`` line, else the last line), with the
        ``detail:`` lines that follow it (pg_dump puts the failing query there)."""
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        for index, line in enumerate(lines):
            if "error:" in line or "FATAL" in line:
                details = [d.split("detail:", 1)[1].strip() for d in lines[index + 1:index + 3] if "detail:" in d]
                return line + (f" ({'; '.join(details)})" if details else "")
        return lines[-1] if lines else f"exit code {self.returncode}"


def run_tool(
    argv: Sequence[str],
    connection: ClientConnection,
    *,
    on_tick: Callable[[float], None] | None = None,
    tick_seconds: float = 0.5,
    capture_stdout: bool = False,
) -> ToolRun:
    """Run a client tool (no shell), calling ``on_tick(elapsed)`` while it runs.

    Files it creates get mode 0600 (umask 077). If the caller is interrupted (SIGINT / SIGTERM,
    or any exception), the child is stopped and reaped before the exception goes on: it never
    outlives us, orphaned, still writing.
    """
    started = time.monotonic()
    with tempfile.TemporaryFile() as err, (tempfile.TemporaryFile() if capture_stdout else open(os.devnull, "wb")) as out:
        process = subprocess.Popen(list(argv), stdout=out, stderr=err, env=connection.env, umask=0o077)
        try:
            while True:
                try:
                    process.wait(timeout=tick_seconds)
                    break
                except subprocess.TimeoutExpired:
                    if on_tick is not None:
                        on_tick(time.monotonic() - started)
        except BaseException as exc:
            _stop(process)
            if isinstance(exc, interrupts.Interrupted):
                interrupts.note_undone(f"stopped {os.path.basename(argv[0])}")
            raise
        err.seek(0)
        text = err.read().decode("utf-8", errors="replace")
        captured = ""
        if capture_stdout:
            out.seek(0)
            captured = out.read().decode("utf-8", errors="replace")
    return ToolRun(process.returncode, redact(text, connection.secrets), time.monotonic() - started, captured)


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM (pg_dump / pg_restore then cancel their queries and stop their parallel workers),
    SIGKILL after 5 s."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
