"""replication_lag against a real streaming replica: a private primary (initdb) and a standby made
with pg_basebackup -R, both on free ports; replay paused on the standby to create real lag."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from migration_guard.tasks.checks import replication
from migration_guard.tasks.checks.base import CheckStatus
from tests.checks_support import config_with, run_one
from tests.pg_server import _server_binaries

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def replica_pair() -> Iterator[tuple[str, str]]:
    """(primary URL, standby URL)."""
    bin_dir = _server_binaries()
    if bin_dir is None or not (bin_dir / "pg_basebackup").exists():
        pytest.skip("needs PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup)")
    root = Path(tempfile.mkdtemp(prefix="mg-replica-", dir="/tmp"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]

    def tool(name: str, *args: str) -> None:
        subprocess.run([*as_user, str(bin_dir / name), *args], check=True, capture_output=True, timeout=120)

    primary, standby = root / "primary", root / "standby"
    p_port, s_port = _free_port(), _free_port()
    options = "-c listen_addresses=127.0.0.1 -c fsync=off -k " + str(root)
    started: list[Path] = []
    try:
        tool("initdb", "-D", str(primary), "-U", "postgres", "-A", "trust", "--no-sync")
        tool("pg_ctl", "-D", str(primary), "-w", "-l", str(root / "primary.log"), "-o", f"-p {p_port} {options}", "start")
        started.append(primary)
        tool("pg_basebackup", "-h", "127.0.0.1", "-p", str(p_port), "-U", "postgres", "-D", str(standby), "-R",
             "--no-sync", "-X", "stream")
        tool("pg_ctl", "-D", str(standby), "-w", "-l", str(root / "standby.log"), "-o", f"-p {s_port} {options}", "start")
        started.append(standby)
        yield (f"postgresql://postgres@127.0.0.1:{p_port}/postgres", f"postgresql://postgres@127.0.0.1:{s_port}/postgres")
    finally:
        for data in reversed(started):
            subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                           capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def _write_and_wait_replayed(primary: str, standby: str) -> None:
    with psycopg.connect(primary, autocommit=True) as p:
        p.execute("CREATE TABLE IF NOT EXISTS ticks (at timestamptz)")
        p.execute("INSERT INTO ticks VALUES (now())")
        lsn = p.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
    with psycopg.connect(standby, autocommit=True) as s:
        deadline = time.monotonic() + 30
        while not s.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)).fetchone()[0]:
            assert time.monotonic() < deadline, "standby did not catch up"
            time.sleep(0.05)


def test_caught_up_replica_passes_paused_replay_lags(replica_pair: tuple[str, str]) -> None:
    primary, standby = replica_pair
    _write_and_wait_replayed(primary, standby)
    caught_up = run_one(replication.CHECK, standby, config_with(replication_lag_warn="30s"))
    with psycopg.connect(standby, autocommit=True) as s:
        s.execute("SELECT pg_wal_replay_pause()")
        try:
            with psycopg.connect(primary, autocommit=True) as p:
                p.execute("INSERT INTO ticks VALUES (now())")
            time.sleep(1.5)
            lagging = run_one(replication.CHECK, standby,
                              config_with(replication_lag_warn="1s", replication_lag_critical="1h"))
        finally:
            s.execute("SELECT pg_wal_replay_resume()")
    on_primary = run_one(replication.CHECK, primary)

    assert caught_up.status is CheckStatus.OK and caught_up.summary.startswith("replica")
    assert lagging.status is CheckStatus.WARNING and lagging.observed_value >= 1.5
    assert any("pg_stat_wal_receiver" in s for s in lagging.problem.suggestions)
    assert on_primary.summary == "primary (not a replica)"
