"""What the health history costs a healthcheck, per database: the plain healthcheck of N databases
with the history (the three history checks — capacity_forecast, anomalies, query_regressions — and
the record-history step) against the same run without it (those checks disabled, nothing recorded),
measured alternately in the same run. The store holds a realistic history first: 4 weeks of hourly
readings (the default schedule) per database, its sequences' for the last 7 days.

A run reads every sequence once per ``SCAN_INTERVAL`` (6 h) and in between only those near
their limit (``tasks/history/sequences.py``): both kinds of run are measured (a scan is forced by
removing the last scan's mark), and the cost per run on the hourly schedule is their weighted mean
(5 runs between scans for 1 scan) — what the target is judged on, per database of the run, and
split into a run's fixed part (the store's connection and commit, once per run) and the part each
database adds (the slope between the smallest and the largest ``--sizes``).

Also the record step alone both ways: with the readings the anomalies check took on the checks'
session (what a run does now) and reading the database on a session of its own (what it did before,
and still does when the anomalies check is disabled).

Usage: .venv/bin/python bench/history_cost.py [--sizes 1 10] [--repeat 5] [--sequences 200] [--history-days 28]
Each database gets a table with 1,000 rows and ``--sequences`` serial columns (sequence readings
are the largest part of a run's rows). Target: < 20 ms per database.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, scratch_database  # noqa: E402
from migration_guard.tasks.healthcheck.config import HealthcheckConfig  # noqa: E402
from migration_guard.tasks.healthcheck.pipeline import run_checks  # noqa: E402
from migration_guard.tasks.healthcheck.steps import PLAIN_STEPS, record_history_step  # noqa: E402
from migration_guard.tasks.healthcheck.target import DatabaseTarget  # noqa: E402
from migration_guard.tasks.history.backend import open_store, shared_history_reads  # noqa: E402
from migration_guard.tasks.history.collect import read_observations  # noqa: E402
from migration_guard.tasks.history.model import SEQUENCE_VALUE, SEQUENCES_SCANNED, Observation  # noqa: E402
from migration_guard.tasks.history.sequences import SCAN_INTERVAL  # noqa: E402
from migration_guard.tasks.history.store import database_key  # noqa: E402
from migration_guard.tasks.settings import load_settings  # noqa: E402

TARGET_MS = 20.0
HISTORY_CHECKS = ("capacity_forecast", "anomalies", "query_regressions")
#: hourly runs per sequence scan
RUNS_PER_SCAN = round(SCAN_INTERVAL / timedelta(hours=1))


def forget_scans(settings, since: datetime) -> None:
    """Remove the marks of the sequence scans since ``since``: the next run scans every sequence
    again (the older scans stay, as in a history recorded hour by hour)."""
    with open_store(settings) as store:
        store._execute("DELETE FROM mg_observations WHERE metric = %s AND at >= %s", (SEQUENCES_SCANNED, since.timestamp()))
        store._commit()


def prepare(url: str, sequences: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id serial PRIMARY KEY, v int)")
        conn.execute("INSERT INTO t (v) SELECT g FROM generate_series(1, 1000) g")
        for i in range(sequences):
            conn.execute(f"CREATE TABLE s{i} (id serial PRIMARY KEY)")
            conn.execute(f"INSERT INTO s{i} DEFAULT VALUES")  # a sequence never used has no reading
        conn.execute("ANALYZE")


def prefill(settings, urls: list[str], days: int, now: datetime) -> int:
    """Hourly readings like the database's own for ``days`` before ``now``, growing a little each
    hour, as the healthcheck records them: the sequences (far from their limits) only at a scan,
    every ``SCAN_INTERVAL`` over the last 7 days (the forecast reads no more), with its mark.
    Returns the rows."""
    rows = []
    every = round(SCAN_INTERVAL / timedelta(hours=1))
    for url in urls:
        key = database_key(url)
        with psycopg.connect(url, autocommit=True) as conn:
            current = read_observations(conn, key)
        for hours in range(days * 24, 0, -1):
            at = now - timedelta(hours=hours)
            scan = hours <= 7 * 24 and hours % every == 0
            for o in current:
                if o.metric in (SEQUENCE_VALUE, SEQUENCES_SCANNED) and not scan:
                    continue
                rows.append((at, Observation(o.database, o.metric, max(o.value - hours * 10, 0), o.subject, o.limit)))
    with open_store(settings) as store:
        return store.add_timed_observations(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sequences", type=int, default=200)
    parser.add_argument("--history-days", type=int, default=28)
    args = parser.parse_args()
    rows, breakdown = [], []
    hourly: dict[str, dict[int, float]] = {}  # store -> databases -> history ms per run (hourly mean)
    with ExitStack() as stack:
        state_db = stack.enter_context(scratch_database("mg_bench_state"))
        for size in args.sizes:
            urls = [stack.enter_context(scratch_database("mg_bench_hist")) for _ in range(size)]
            for url in urls:
                prepare(url, args.sequences)
            targets = [DatabaseTarget(name=f"db{i}", dsn=u) for i, u in enumerate(urls)]
            folder = Path(tempfile.mkdtemp(prefix="mg-bench-history-"))
            full, without = HealthcheckConfig(), HealthcheckConfig(disabled_checks=HISTORY_CHECKS)
            for store, extra in (("sqlite", {}), ("postgres", {"state_database_url": state_db})):
                settings = load_settings(database_url=urls[0], log_dir=folder / store, **extra)
                history_rows = prefill(settings, urls, args.history_days, datetime.now(timezone.utc))
                run_checks(targets, settings, full, PLAIN_STEPS)  # warm up
                samples: dict[str, list[float]] = {k: [] for k in ("without", "with", "scan", "checks", "record", "own")}
                for _ in range(args.repeat):
                    forget_scans(settings, datetime.now(timezone.utc) - SCAN_INTERVAL)
                    started = time.perf_counter()
                    with shared_history_reads(settings):
                        report = run_checks(targets, settings, full, PLAIN_STEPS)
                        record_history_step(report, settings, targets)
                    samples["scan"].append(time.perf_counter() - started)
                    started = time.perf_counter()
                    run_checks(targets, settings, without, PLAIN_STEPS)
                    samples["without"].append(time.perf_counter() - started)
                    started = time.perf_counter()
                    with shared_history_reads(settings):  # as run_healthcheck: one store session per run
                        report = run_checks(targets, settings, full, PLAIN_STEPS)
                        checked = time.perf_counter()
                        record_history_step(report, settings, targets)
                    samples["with"].append(time.perf_counter() - started)
                    samples["record"].append(time.perf_counter() - checked)
                    samples["checks"].append(sum(r.duration_ms for r in report.results if r.check in HISTORY_CHECKS)
                                             / 1000 / size)
                    for name in HISTORY_CHECKS:
                        samples.setdefault(name, []).append(
                            sum(r.duration_ms for r in report.results if r.check == name) / 1000 / size)
                    started = time.perf_counter()
                    record_history_step(report, settings, targets)  # nothing handed over: its own sessions
                    samples["own"].append(time.perf_counter() - started)
                ms = {k: statistics.median(v) * 1000 for k, v in samples.items()}
                between, scan = (ms["with"] - ms["without"]) / size, (ms["scan"] - ms["without"]) / size
                per_db = (between * (RUNS_PER_SCAN - 1) + scan) / RUNS_PER_SCAN
                hourly.setdefault(store, {})[size] = per_db * size
                rows.append((size, store, f"{ms['without']:.0f}", f"{ms['with']:.0f}", f"{ms['scan']:.0f}",
                             f"{between:.1f}", f"{scan:.1f}", f"{per_db:.1f}", "yes" if per_db < TARGET_MS else "NO"))
                breakdown.append((size, store, f"{history_rows:,}", f"{ms['checks']:.1f} = "
                                  + " + ".join(f"{ms[name]:.1f}" for name in HISTORY_CHECKS), f"{ms['record'] / size:.1f}",
                                  f"{ms['own'] / size:.1f}", f"{ms['own'] / max(ms['record'], 1e-9):.1f}x"))
    load = os.getloadavg()[0]
    print_table(f"Health history cost (median of {args.repeat}; {args.sequences} sequences per database; "
                f"load {load:.1f})",
                ["databases", "store", "run without history (ms)", "run with history (ms)", "run with a sequence scan (ms)",
                 "history per database (ms)", "with a scan (ms)", f"per run, hourly ({RUNS_PER_SCAN - 1}:1)",
                 f"< {TARGET_MS:.0f} ms"], rows)
    split = []
    for store, by_size in hourly.items():
        small, large = min(by_size), max(by_size)
        if large > small:
            per_database = (by_size[large] - by_size[small]) / (large - small)
            split.append((store, f"{by_size[small] - small * per_database:.1f}", f"{per_database:.1f}",
                          "yes" if per_database < TARGET_MS else "NO"))
    if split:
        print_table(f"A run's history cost = fixed + per database (from {min(args.sizes)} and {max(args.sizes)} "
                    "databases, hourly mean)",
                    ["store", "fixed per run (ms: the store's connection and commit)", "per database (ms)",
                     f"< {TARGET_MS:.0f} ms"], split)
    print_table("Where it goes, per database",
                ["databases", "store", "history rows", "history checks (ms) = " + " + ".join(HISTORY_CHECKS), "record step (ms)",
                 "record step, own session (ms, before)", "own / handed"], breakdown)


if __name__ == "__main__":
    main()
