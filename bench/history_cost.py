"""What the health history costs a healthcheck, per database: the plain healthcheck sequence of N
databases with the record-history step (readings + SQLite or PostgreSQL store) against the same
sequence without it, measured in the same run. Also the two history checks alone.

Usage: .venv/bin/python bench/history_cost.py [--sizes 1 10] [--repeat 5] [--sequences 200]
Each database gets a table with 1,000 rows and ``--sequences`` serial columns (sequence readings
are the largest part of a run's rows). Target: < 20 ms per database.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, scratch_database  # noqa: E402
from migration_guard.tasks.healthcheck.config import HealthcheckConfig  # noqa: E402
from migration_guard.tasks.healthcheck.pipeline import run_checks  # noqa: E402
from migration_guard.tasks.healthcheck.steps import PLAIN_STEPS, record_history_step  # noqa: E402
from migration_guard.tasks.healthcheck.target import DatabaseTarget  # noqa: E402
from migration_guard.tasks.settings import load_settings  # noqa: E402

TARGET_MS = 20.0


def prepare(url: str, sequences: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id serial PRIMARY KEY, v int)")
        conn.execute("INSERT INTO t (v) SELECT g FROM generate_series(1, 1000) g")
        for i in range(sequences):
            conn.execute(f"CREATE TABLE s{i} (id serial PRIMARY KEY)")
        conn.execute("ANALYZE")


def timed(action, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sequences", type=int, default=200)
    args = parser.parse_args()
    rows = []
    with ExitStack() as stack:
        state_db = stack.enter_context(scratch_database("mg_bench_state"))
        for size in args.sizes:
            urls = [stack.enter_context(scratch_database("mg_bench_hist")) for _ in range(size)]
            for url in urls:
                prepare(url, args.sequences)
            targets = [DatabaseTarget(name=f"db{i}", dsn=u) for i, u in enumerate(urls)]
            folder = Path(tempfile.mkdtemp(prefix="mg-bench-history-"))
            config = HealthcheckConfig()
            for store, extra in (("sqlite", {}), ("postgres", {"state_database_url": state_db})):
                settings = load_settings(database_url=urls[0], log_dir=folder / store, **extra)
                report = run_checks(targets, settings, config, PLAIN_STEPS)
                checks_ms = timed(lambda: run_checks(targets, settings, config, PLAIN_STEPS), args.repeat)
                history_ms = timed(lambda: record_history_step(report, settings, targets), args.repeat)
                per_db = history_ms / size
                rows.append((size, store, f"{checks_ms:.0f}", f"{history_ms:.1f}", f"{per_db:.1f}",
                             "yes" if per_db < TARGET_MS else "NO"))
    print_table(f"Health history cost (median of {args.repeat}; {args.sequences} sequences per database)",
                ["databases", "store", "checks (ms, baseline)", "record-history (ms)", "per database (ms)",
                 f"< {TARGET_MS:.0f} ms"], rows)


if __name__ == "__main__":
    main()
