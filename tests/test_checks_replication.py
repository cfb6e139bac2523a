"""replication_lag against a real streaming replica: a private primary (initdb) and a standby made
with pg_basebackup -R, both on free ports; replay paused on the standby to create real lag."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest

from migration_guard.tasks.healthcheck.checks import replication
from migration_guard.tasks.healthcheck.base import CheckStatus
from tests.checks_support import config_with, run_one
from tests.pg_server import PrivateClusters, free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def replica_pair() -> Iterator[tuple[str, str]]:
    """(primary URL, standby URL)."""
    try:
        clusters = PrivateClusters("mg-replica-")
    except RuntimeError:
        pytest.skip("needs PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup)")
    if not clusters.has("pg_basebackup"):
        clusters.stop()
        pytest.skip("needs pg_basebackup")
    primary, standby = clusters.root / "primary", clusters.root / "standby"
    p_port, s_port = free_port(), free_port()
    try:
        clusters.run("initdb", "-D", str(primary), "-U", "postgres", "-A", "trust", "--no-sync")
        clusters.start(primary, p_port)
        clusters.run("pg_basebackup", "-h", "127.0.0.1", "-p", str(p_port), "-U", "postgres", "-D", str(standby),
                     "-R", "--no-sync", "-X", "stream")
        clusters.start(standby, s_port)
        yield (f"postgresql://postgres@127.0.0.1:{p_port}/postgres", f"postgresql://postgres@127.0.0.1:{s_port}/postgres")
    finally:
        clusters.stop()


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
