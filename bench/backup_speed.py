"""migration-guard's backup vs plain `pg_dump -Fc` vs a raw server-side `COPY ... TO '/dev/null'`
read of the same tables, in the same run.

Usage: .venv/bin/python bench/backup_speed.py [--mib 300] [--tables 4] [--rounds 3] [--keep-dir DIR]
Seeds a scratch database with realistic, not very compressible rows (ids, timestamps, amounts,
statuses, md5-like codes, free text, a bytea column; gzip shrinks it about 2:1), VACUUM ANALYZEs
it, warms the cache with one untimed read, then times every method in --rounds interleaved rounds
(the machine is shared; medians are shown, and the per-round rates).
MiB/s = table data (pg_table_size of the seeded tables) / wall seconds, the same numerator for all.
Targets: migration-guard >= 3x `pg_dump -Fc` (defaults) and >= 50% of the raw read rate.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, run, scratch_database  # noqa: E402
from migration_guard.tasks.backup import create_backup, verify_backup  # noqa: E402
from migration_guard.tasks.backup.files import size_of  # noqa: E402
from migration_guard.tasks.backup.tools import find_tools  # noqa: E402

MiB = 1 << 20
#: approximate on-disk bytes per seeded row (measured: heap row incl. header and alignment)
ROW_BYTES = 200

SEED_TABLE = """
CREATE TABLE {table} (
  id bigint PRIMARY KEY,
  customer_id integer NOT NULL,
  created_at timestamptz NOT NULL,
  status text NOT NULL,
  amount numeric(12, 2) NOT NULL,
  sku text NOT NULL,
  note text,
  digest bytea
);
INSERT INTO {table}
SELECT g,
       (random() * 1e6)::int,
       now() - random() * interval '900 days',
       (ARRAY['new', 'paid', 'shipped', 'delivered', 'refunded'])[1 + (random() * 4)::int],
       round((random() * 10000)::numeric, 2),
       upper(substr(md5(random()::text), 1, 12)),
       (ARRAY['gift wrap please', 'leave at the door', 'call before delivery', '', 'fragile', 'second order this month'])[1 + (random() * 5)::int]
         || ' ' || md5(random()::text) || ' ' || md5(random()::text),
       decode(md5(random()::text) || md5(random()::text), 'hex')
FROM generate_series({start}, {stop}) g;
"""


def seed(url: str, mib: float, tables: int) -> list[str]:
    """Create ``tables`` tables of about ``mib / tables`` MiB each; return their names."""
    rows_per_table = int(mib * MiB / ROW_BYTES / tables)
    names = [f"orders_{index}" for index in range(tables)]

    def fill(name: str) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL(SEED_TABLE.format(table="{table}", start=1, stop=rows_per_table))
                         .format(table=sql.Identifier(name)))
            conn.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(name)))

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(fill, names))
    return names


def table_bytes(url: str, names: list[str]) -> int:
    with psycopg.connect(url) as conn:
        return int(conn.execute("SELECT sum(pg_table_size(t::regclass)) FROM unnest(%s::text[]) t", (names,)).fetchone()[0])


def raw_read(url: str, names: list[str], sessions: int) -> None:
    """Server-side COPY of every table to /dev/null, ``sessions`` at a time."""
    def copy(name: str) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("COPY {} TO '/dev/null'").format(sql.Identifier(name)))

    with ThreadPoolExecutor(max_workers=sessions) as pool:
        list(pool.map(copy, names))


def timed(action: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def measure_round(url: str, names: list[str], work: Path, cores: int, pg_dump: str) -> list[tuple[str, float, int]]:
    """One timing of every method, in a fixed order; (label, seconds, dump bytes)."""
    results: list[tuple[str, float, int]] = []
    sessions = min(cores, len(names))
    seconds, _ = timed(lambda: raw_read(url, names, 1))
    results.append(("raw read: COPY ... TO '/dev/null', 1 session", seconds, 0))
    seconds, _ = timed(lambda: raw_read(url, names, sessions))
    results.append((f"raw read: COPY ... TO '/dev/null', {sessions} sessions", seconds, 0))

    plain = work / "plain.dump"
    seconds, done = timed(lambda: run([pg_dump, "-Fc", f"--file={plain}", f"--dbname={url}"]))
    assert done.returncode == 0, done.stderr
    results.append(("pg_dump -Fc (defaults)", seconds, size_of(plain)))
    plain.unlink()

    seconds, info = timed(lambda: create_backup(url, work / "mg", reason="bench"))
    results.append((f"migration-guard backup create (auto: {info.format}, -j {info.jobs}, -Z {info.compression})",
                    seconds, info.size_bytes))
    verify_seconds, _ = timed(lambda: verify_backup(info.path))
    results.append(("migration-guard backup create + verify (read back)", seconds + verify_seconds, info.size_bytes))
    shutil.rmtree(work / "mg")

    other = 1 if info.compression == 0 else 0
    seconds, info_other = timed(lambda: create_backup(url, work / "mg2", reason="bench", fmt="directory",
                                                      compression=other))
    results.append((f"migration-guard backup create --format directory -Z {other} (-j {info_other.jobs})",
                    seconds, info_other.size_bytes))
    shutil.rmtree(work / "mg2")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=float, default=300, help="approximate table data to seed, MiB (default 300)")
    parser.add_argument("--tables", type=int, default=4, help="number of tables (default 4)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="timings of every method, interleaved; the table shows medians (default 3)")
    parser.add_argument("--keep-dir", type=Path, default=None, help="where dumps go (default: a temp dir, removed)")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    work = Path(tempfile.mkdtemp(prefix="mg-bench-backup-", dir=args.keep_dir))
    rounds: list[list[tuple[str, float, int]]] = []
    try:
        with scratch_database("mg_bench_backup") as url:
            started = time.perf_counter()
            names = seed(url, args.mib, args.tables)
            data = table_bytes(url, names)
            print(f"seeded {len(names)} tables, {data / MiB:.0f} MiB of table data in {time.perf_counter() - started:.0f} s; "
                  f"{cores} cores; {args.rounds} round(s), medians shown")
            raw_read(url, names, 1)  # warm the cache, set hint bits
            with psycopg.connect(url) as conn:
                tools = find_tools(int(conn.info.server_version) // 10000)
            for _ in range(max(1, args.rounds)):
                rounds.append(measure_round(url, names, work, cores, str(tools.pg_dump)))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    labels = [label for label, _, _ in rounds[0]]
    seconds_of = {label: statistics.median(r[i][1] for r in rounds) for i, label in enumerate(labels)}
    size_of_dump = {label: rounds[0][i][2] for i, label in enumerate(labels)}
    rate = {label: data / MiB / seconds_of[label] for label in labels}
    raw1, rawn, plain_rate, ours = rate[labels[0]], rate[labels[1]], rate[labels[2]], rate[labels[3]]
    rows = [[label, f"{seconds_of[label]:.2f}", f"{rate[label]:.0f}",
             f"{size_of_dump[label] / MiB:.0f}" if size_of_dump[label] else "-",
             f"{rate[label] / plain_rate:.2f}x", f"{rate[label] / raw1:.0%}", f"{rate[label] / rawn:.0%}"] for label in labels]
    print_table(
        f"Backup speed, {data / MiB:.0f} MiB of table data ({len(names)} tables), {cores} cores, median of {len(rounds)}",
        ["method", "seconds", "MiB/s", "dump MiB", "vs pg_dump -Fc", "vs raw read (1 session)", "vs raw read (parallel)"],
        rows,
    )
    print(f"\ntargets: >= 3x pg_dump -Fc -> {ours / plain_rate:.2f}x {'MET' if ours >= 3 * plain_rate else 'MISSED'}; "
          f">= 50% of raw read (1 session) -> {ours / raw1:.0%} {'MET' if ours >= 0.5 * raw1 else 'MISSED'} "
          f"(parallel raw read: {ours / rawn:.0%})")
    per_round = ", ".join(f"{data / MiB / r[3][1]:.0f}" for r in rounds)
    print(f"migration-guard MiB/s per round: {per_round}; pg_dump -Fc: {', '.join(f'{data / MiB / r[2][1]:.0f}' for r in rounds)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
