"""Recovery time of the seed's incident on a database with ~1 GB of data, with its breakdown.

Usage: .venv/bin/python bench/recovery_time.py [--size-mb 1024] [--statements 2000] [--repeat 3]

1. Diagnosis speed: a 2,000-statement migration (tables, columns, indexes, foreign keys), half
   applied, diagnosed against the live catalog; baseline in the same run: parsing the file alone.
2. The seed's incident: the demo's Prisma project (init + 20250101000000_enhance_payment_tracking)
   on a database grown to --size-mb with Payment rows, the incident reproduced (columns and index
   created, the foreign key failing on orphan rows), the orphans fixed by the operator (untimed),
   then `recover` end to end: detect, backup (verified pg_dump), diagnose, repair, verify (status,
   INVALID indexes, shadow-database drift check). Baseline in the same run: the seed script's
   manual path — `pg_dump -Fc` of the database plus the bare foreign-key statement (rolled back).
3. Diagnosis by replay (issue 13): the failed migration's statements run one by one in a shadow
   database with a fingerprint of the touched objects after each, the live schema matched to a
   prefix — for the 2,000-statement migration above and for documenso's real 129-statement data
   migration (tests/data/documenso; its 131 earlier migrations replayed into the shadow first,
   timed apart). Baseline in the same run: parsing the file; beside it the catalog-only diagnosis
   and the replay one statement per round trip (how it ran before blocks). Replay times are the
   median of --repeat runs, each on a fresh shadow.
Targets: recovery under 60 s on this machine at ~1 GB; replay diagnosis of the 129-statement
migration < 2 s and of the 2,000-statement one < 5 s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, run, scratch_database  # noqa: E402
from migration_guard.tasks.settings import load_settings  # noqa: E402
from migration_guard.tasks.recover.pipeline import RecoverOptions, run_recovery  # noqa: E402
from migration_guard.tasks.backup.tools import find_tools  # noqa: E402
from migration_guard.cli.demo_scenario.scenario import INCIDENT, build_project, reproduce_incident  # noqa: E402
from migration_guard.tasks.diagnose import diagnose_migration, load_catalog  # noqa: E402
from migration_guard.tasks.project import Project  # noqa: E402
from migration_guard.tasks.recover.steps import PLAIN_STEPS  # noqa: E402
from migration_guard.tasks.sql.statements import split_statements  # noqa: E402

MiB = 1 << 20
#: bytes per Payment row on disk, heap + primary key (measured: ~73 heap, ~22 index)
PAYMENT_ROW_BYTES = 95


def big_migration(statements: int) -> str:
    """A migration of ``statements`` statements over statements // 4 tables."""
    tables = statements // 4
    parts = [f'CREATE TABLE "t{i}" ("id" INTEGER PRIMARY KEY, "ref" INTEGER);' for i in range(tables)]
    parts += [f'ALTER TABLE "t{i}" ADD COLUMN "v" TEXT NOT NULL DEFAULT \'x\';' for i in range(tables)]
    parts += [f'CREATE INDEX "t{i}_v_idx" ON "t{i}" ("v");' for i in range(tables)]
    parts += [f'ALTER TABLE "t{i}" ADD CONSTRAINT "t{i}_ref_fkey" FOREIGN KEY ("ref") REFERENCES "t{(i + 1) % tables}"("id");'
              for i in range(tables)]
    return "\n".join(parts) + "\n"


def bench_diagnosis(statements: int) -> None:
    sql_text = big_migration(statements)
    parsed = split_statements(sql_text)
    with scratch_database("mg_bench_diag") as url, psycopg.connect(url, autocommit=True) as conn:
        for statement in parsed[: len(parsed) // 2]:
            conn.execute(statement.text)
        started = time.perf_counter()
        split_statements(sql_text)
        parse_s = time.perf_counter() - started
        started = time.perf_counter()
        catalog = load_catalog(conn, ["public"])
        catalog_s = time.perf_counter() - started
        started = time.perf_counter()
        diagnosis = diagnose_migration(sql_text, "big", catalog)
        diagnose_s = time.perf_counter() - started
    total = catalog_s + diagnose_s
    print_table(
        f"Diagnosis of a {len(parsed)}-statement migration, half applied ({diagnosis.summary})",
        ["step", "seconds", "vs parsing the file"],
        [["parse the file (baseline)", f"{parse_s:.3f}", "1.0x"],
         ["catalog snapshot (one query per kind)", f"{catalog_s:.3f}", f"{catalog_s / parse_s:.1f}x"],
         ["diagnose (parse + decide + order)", f"{diagnose_s:.3f}", f"{diagnose_s / parse_s:.1f}x"],
         ["total", f"{total:.3f}", f"{total / parse_s:.1f}x (target: about 1 s)"]],
    )


def _replay_timed(statements_sql: str, name: str, earlier: list[str], live_setup,
                  logs: str | None = None, repeat: int = 3) -> list[list[str]]:
    """Rows for one replay benchmark: parse (baseline), catalog diagnosis, shadow build, replay + match
    (median of ``repeat`` runs, each on a fresh shadow), and beside it the same replay one statement
    per round trip with a fingerprint after each (``block=1``, the replay before blocks)."""
    import statistics

    from migration_guard.tasks.diagnose.replay import (
        BLOCK,
        diagnose_by_replay,
        fingerprint,
        migration_statements,
        replay_statements,
        touched_names,
    )

    started = time.perf_counter()
    statements = migration_statements(statements_sql, name)
    parse_s = time.perf_counter() - started
    timed: dict[int, list[float]] = {BLOCK: [], 1: []}
    summaries: dict[int, str] = {}
    shadow_times: list[float] = []
    with scratch_database("mg_bench_live") as live_url, psycopg.connect(live_url, autocommit=True) as live:
        live_setup(live, statements)
        started = time.perf_counter()
        catalog = load_catalog(live, ["public"])
        catalog_diagnosis = diagnose_migration(statements_sql, name, catalog)
        catalog_s = time.perf_counter() - started
        for _ in range(repeat):
            for block in (BLOCK, 1):
                with scratch_database("mg_bench_shadow") as shadow_url, \
                        psycopg.connect(shadow_url, autocommit=True) as shadow:
                    started = time.perf_counter()
                    for text in earlier:
                        for statement in split_statements(text):
                            shadow.execute(statement.text)
                    shadow_times.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    names = touched_names(statements)
                    live_print = fingerprint(live, "public", names)
                    replay = replay_statements(shadow, statements, "public", names, live_print, block=block)
                    diagnosis = diagnose_by_replay(statements, name, live_print, replay, catalog, logs=logs)
                    timed[block].append(time.perf_counter() - started)
                    summaries[block] = diagnosis.summary if diagnosis else "no prefix matched"
    shadow_s = statistics.median(shadow_times)
    replay_s, stepwise_s = statistics.median(timed[BLOCK]), statistics.median(timed[1])
    return [[f"{name}: parse the file (baseline)", f"{parse_s:.3f}", "1.0x", f"{len(statements)} statements"],
            [f"{name}: catalog-only diagnosis", f"{catalog_s:.3f}", f"{catalog_s / parse_s:.1f}x",
             catalog_diagnosis.summary],
            [f"{name}: shadow of the earlier migrations", f"{shadow_s:.3f}", f"{shadow_s / parse_s:.1f}x",
             f"{len(earlier)} migrations"],
            [f"{name}: replay + match, blocks of {BLOCK} (the diagnosis)", f"{replay_s:.3f}",
             f"{replay_s / parse_s:.1f}x", summaries[BLOCK]],
            [f"{name}: replay + match, one statement per round trip (before)", f"{stepwise_s:.3f}",
             f"{stepwise_s / parse_s:.1f}x", summaries[1]]]


def bench_replay(statements: int, repeat: int = 3) -> None:
    big = big_migration(statements)

    def half_applied(conn: psycopg.Connection, parsed: list) -> None:
        for statement in parsed[: len(parsed) // 2]:
            conn.execute(statement.text)

    rows = _replay_timed(big, "big", [], half_applied, repeat=repeat)
    corpus = Path(__file__).resolve().parent.parent / "tests" / "data" / "documenso" / "prisma" / "migrations"
    failing = "20250522054050_add_organisations"
    if corpus.is_dir():
        earlier = [(d / "migration.sql").read_text() for d in sorted(corpus.iterdir())
                   if d.is_dir() and d.name < failing]
        data = (corpus.parent.parent / "rows.sql").read_text()

        def failed_at_15(conn: psycopg.Connection, parsed: list) -> None:
            for text in earlier:
                for statement in split_statements(text):
                    conn.execute(statement.text)
            conn.execute(data)
            for statement in parsed[:14]:
                conn.execute(statement.text)

        rows += _replay_timed((corpus / failing / "migration.sql").read_text(), "documenso add_organisations",
                              earlier, failed_at_15, logs="external connector error\nUnique constraint failed: Team_url_key",
                              repeat=repeat)
    print_table("Diagnosis by replay (targets: 129 statements < 2 s, 2,000 statements < 5 s)",
                ["step", "seconds", "vs parsing", "result"], rows)


def grow(url: str, size_mb: int) -> int:
    rows = max(10_000, size_mb * MiB // PAYMENT_ROW_BYTES)
    with psycopg.connect(url, autocommit=True) as conn:
        batch = 1_000_000
        for start in range(0, rows, batch):
            conn.execute(
                'INSERT INTO "Payment" ("customerId", "amount", "dueDate", "createdAt") '
                "SELECT 1 + (g %% 500), round((10 + (g * 37 %% 990))::numeric, 2), "
                "now() + ((g %% 60) - 30) * interval '1 day', now() - (g %% 90) * interval '1 day' "
                "FROM generate_series(%s, %s) g", (start, min(rows, start + batch) - 1))
        conn.execute("INSERT INTO \"Payment\" (\"customerId\", amount, \"dueDate\") VALUES (9001, 1, now()), (9002, 1, now())")
        conn.execute("VACUUM ANALYZE")
    return rows


def bench_recovery(size_mb: int) -> None:
    with scratch_database("mg_bench_recover") as url, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        project_files = build_project(root)
        ledger = project_files.ledger()
        init = project_files.migration("20241201000000_init")
        with psycopg.connect(url, autocommit=True) as conn:
            ledger.ensure_table(conn)
            entry = ledger.record_started(conn, init)
            conn.execute(init.sql)
            ledger.record_finished(conn, entry)
            conn.execute("INSERT INTO \"Customer\" (email, name) SELECT 'c' || g || '@x.io', 'C' || g "
                         "FROM generate_series(1, 500) g")
        started = time.perf_counter()
        rows = grow(url, size_mb)
        grow_s = time.perf_counter() - started
        started = time.perf_counter()
        state = reproduce_incident(url, project_files)
        incident_s = time.perf_counter() - started
        with psycopg.connect(url, autocommit=True) as conn:
            db_bytes = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
            conn.execute('DELETE FROM "Payment" p WHERE NOT EXISTS (SELECT 1 FROM "Customer" c WHERE c.id = p."customerId")')
            # baseline: the seed script's path — pg_dump -Fc, then the bare statement
            tools = find_tools(int(conn.info.server_version) // 10000)
            started = time.perf_counter()
            done = run([str(tools.pg_dump), "-Fc", f"--file={root / 'baseline.dump'}", f"--dbname={url}"])
            dump_s = time.perf_counter() - started
            assert done.returncode == 0, done.stderr
            started = time.perf_counter()
            with conn.transaction(force_rollback=True):
                conn.execute(split_statements(project_files.migration(INCIDENT).sql)[-1].text)
            statement_s = time.perf_counter() - started
        print(f"seeded {rows:,} payments in {grow_s:.0f}s; incident reproduced in {incident_s:.0f}s "
              f"(SQLSTATE {state.sqlstate}, columns {len(state.columns_added)}, index {state.index_created}); "
              f"database {db_bytes / MiB:,.0f} MiB", flush=True)
        project = Project.from_settings(load_settings(
            database_url=url, migrations_dir=project_files.migrations_dir, backup_dir=root / "backups",
            alerts_dir=root / "alerts"))
        report = run_recovery(project, RecoverOptions(mode="auto"), PLAIN_STEPS, lambda plan, report: True)
        assert report.outcome == "recovered", (report.reason, report.next_step)
        baseline = dump_s + statement_s
        timings = report.timings
        rows_out = [[phase, f"{timings.get(phase, 0):.2f}", f"{timings.get(phase, 0) / timings['total'] * 100:.0f}%"]
                    for phase in ("detect", "backup", "diagnose", "repair", "verify")]
        rows_out.append(["total", f"{timings['total']:.2f}", "100%"])
        rows_out.append(["baseline: pg_dump -Fc + the bare FK statement", f"{baseline:.2f}",
                         f"recover / baseline = {timings['total'] / baseline:.2f}x"])
        print_table(f"recover, seed incident, {db_bytes / MiB:,.0f} MiB database (target < 60 s)",
                    ["phase", "seconds", "share"], rows_out)
        backup = report.backup or {}
        print(f"backup: {backup.get('format')} {backup.get('size_bytes', 0) / MiB:,.0f} MiB, verified {backup.get('verified')}; "
              f"drift: {report.verification['drift']['clean']} ({report.verification['drift']['seconds']}s)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="approximate database size (default 1024)")
    parser.add_argument("--statements", type=int, default=2000, help="statements in the diagnosis benchmark")
    parser.add_argument("--repeat", type=int, default=3, help="replay runs per migration (the median is shown)")
    parser.add_argument("--skip-diagnosis", action="store_true")
    parser.add_argument("--skip-recovery", action="store_true")
    args = parser.parse_args()
    if not args.skip_diagnosis:
        bench_diagnosis(args.statements)
        bench_replay(args.statements, args.repeat)
    if not args.skip_recovery:
        bench_recovery(args.size_mb)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
