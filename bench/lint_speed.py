"""Lint speed: a generated 2,000-statement migration (mixed DDL, DML, DO blocks, functions).

Prints statements/second for `lint_text` (the whole rule set, PL/pgSQL included), pglast's parse
alone (the floor), and squawk on the same file when `squawk` (squawk-cli) is installed, as a ratio.
Target: >= 5,000 statements/s.

    .venv/bin/python bench/lint_speed.py [--statements 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 5_000


def generate(count: int) -> str:
    """A migration of ``count`` statements cycling through realistic kinds."""
    templates = [
        'CREATE TABLE "T{i}" ("id" BIGSERIAL NOT NULL, "name" TEXT NOT NULL, "createdAt" TIMESTAMP(3) NOT NULL '
        'DEFAULT CURRENT_TIMESTAMP, "meta" JSONB, CONSTRAINT "T{i}_pkey" PRIMARY KEY ("id"));',
        'CREATE UNIQUE INDEX "T{i}_name_key" ON "T{i}"("name");',
        'ALTER TABLE "orders" ADD COLUMN "c{i}" INTEGER NOT NULL DEFAULT 0;',
        'ALTER TABLE "orders" ADD CONSTRAINT "orders_c{i}_fkey" FOREIGN KEY ("c{i}") REFERENCES "T{i}"("id") '
        'ON DELETE RESTRICT ON UPDATE CASCADE;',
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_c{i}_idx ON orders (c{i});",
        "UPDATE orders SET status = 'done' WHERE id BETWEEN {i} AND {i} + 1000;",
        "INSERT INTO audit (action, at) VALUES ('migrate {i}', now());",
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'e{i}') THEN "
        "CREATE TYPE e{i} AS ENUM ('a', 'b'); END IF; EXECUTE 'ALTER TABLE orders ADD COLUMN d{i} int'; END $$;",
        "CREATE OR REPLACE FUNCTION f{i}(x int) RETURNS int LANGUAGE plpgsql AS $fn$ BEGIN "
        "UPDATE counters SET n = n + x WHERE id = {i}; RETURN x; END $fn$;",
        'ALTER TABLE "orders" ALTER COLUMN "c{i}" SET DATA TYPE BIGINT;',
        "COMMENT ON COLUMN orders.c{i} IS 'generated {i}';",
        "DELETE FROM sessions WHERE expires_at < now() - interval '{i} days';",
    ]
    lines = [templates[i % len(templates)].format(i=i) for i in range(count)]
    return "\n".join(lines) + "\n"


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import pglast

    from migration_guard.tasks.lint import lint_text

    sql = generate(args.statements)
    statements = len(pglast.parser.split(sql))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench_migration.sql"
        path.write_text(sql)
        findings = lint_text(sql, str(path))
        lint_s = best_of(args.repeat, lambda: lint_text(sql, str(path)))
        parse_s = best_of(args.repeat, lambda: pglast.parse_sql(sql))
        squawk = shutil.which("squawk") or str(Path(sys.executable).parent / "squawk")
        squawk_s = None
        if Path(squawk).exists():
            squawk_s = best_of(args.repeat, lambda: subprocess.run([squawk, str(path)], capture_output=True, check=False))

    rows = [("migration-guard lint (all rules, PL/pgSQL)", lint_s), ("pglast parse_sql alone (validated AST, no rules)", parse_s)]
    if squawk_s is not None:
        rows.append(("squawk (same file, one process)", squawk_s))
    print(f"Lint speed: {statements} statements, {len(sql):,} characters, {len(findings)} findings; best of {args.repeat}.\n")
    print("| tool | seconds | statements/s | time vs lint |")
    print("| --- | ---: | ---: | ---: |")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.3f} | {statements / seconds:,.0f} | {seconds / lint_s:.2f}x |")
    rate = statements / lint_s
    verdict = "meets" if rate >= TARGET else "MISSES"
    print(f"\nlint: {rate:,.0f} statements/s, {verdict} the {TARGET:,}/s target.")
    if squawk_s is not None:
        print(f"Ratio lint/squawk time: {lint_s / squawk_s:.2f} (squawk does not look inside DO blocks or functions).")
    return 0 if rate >= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
