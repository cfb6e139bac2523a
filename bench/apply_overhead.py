"""Applying 200 small migrations: `migration-guard migrate` vs `psql -1 -f` per file vs the real
Prisma CLI `migrate deploy`, each into a fresh database, same run, printed as ratios.

Usage: .venv/bin/python bench/apply_overhead.py [--migrations 200] [--repeat 3]
Targets: migrate (backup excluded) faster than Prisma's CLI (ratio < 1) and within 2x of raw psql.
Needs the Prisma harness (../shared/prisma-harness/setup.sh, npm) for the Prisma column.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, prisma_cli, print_table, run, scratch_database  # noqa: E402
from tests.helpers import make_prisma_project  # noqa: E402

MG = str(ROOT / ".venv" / "bin" / "migration-guard")


def build_project(root: Path, count: int) -> Path:
    return make_prisma_project(root, {
        f"2024{index:010d}_step_{index}":
            f"CREATE TABLE t{index} (id bigint PRIMARY KEY, note text);\nCREATE INDEX t{index}_note ON t{index} (note);\n"
        for index in range(count)
    })


def timed_fresh(action: Callable[[str], None], repeat: int) -> float:
    """Median seconds of ``action(db_url)``, each time on a new empty database."""
    samples = []
    for _ in range(repeat):
        with scratch_database("mg_bench_apply") as url:
            started = time.perf_counter()
            action(url)
            samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def check(done, what: str) -> None:
    if done.returncode != 0:
        raise SystemExit(f"{what} failed: {done.stdout[-1000:]}{done.stderr[-1000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--migrations", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="mg-bench-apply-"))
    migrations_dir = build_project(root, args.migrations)
    files = sorted(str(p) for p in migrations_dir.glob("*/migration.sql"))
    base_env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "MIGRATIONS_DIR"}}

    def mg(extra: list[str]) -> Callable[[str], None]:
        def action(url: str) -> None:
            env = {**base_env, "DATABASE_URL": url, "MIGRATIONS_DIR": str(migrations_dir), "ALERTS_DIR": str(root / "alerts")}
            check(run([MG, "migrate", "--skip-backup", "--json", *extra], env=env), "migration-guard migrate")
        return action

    def psql_per_file(url: str) -> None:
        for path in files:
            check(run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-1", "-f", path, url]), "psql -1 -f")

    def psql_one_process(url: str) -> None:
        script = root / "all.sql"
        script.write_text("".join(f"BEGIN;\n\\i {path}\nCOMMIT;\n" for path in files))
        check(run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(script), url]), "psql (one process)")

    rows = []
    results: dict[str, float] = {}
    results["migrate (apply only: --skip-validate)"] = timed_fresh(mg(["--skip-validate"]), args.repeat)
    results["migrate (validate + apply + verify)"] = timed_fresh(mg([]), args.repeat)
    results["psql -1 -f, one process per file"] = timed_fresh(psql_per_file, args.repeat)
    results["psql, one process, one transaction per file"] = timed_fresh(psql_one_process, args.repeat)
    prisma = prisma_cli()
    if prisma:
        def deploy(url: str) -> None:
            check(run([prisma, "migrate", "deploy"], cwd=root, env={**base_env, "DATABASE_URL": url}), "prisma migrate deploy")
        results["prisma migrate deploy (7.10, harness)"] = timed_fresh(deploy, args.repeat)
    mg_apply = results["migrate (apply only: --skip-validate)"]
    psql_files = results["psql -1 -f, one process per file"]
    prisma_s = results.get("prisma migrate deploy (7.10, harness)")
    for name, seconds in results.items():
        rows.append([name, f"{seconds:.2f}", f"{seconds / psql_files:.2f}",
                     f"{seconds / prisma_s:.2f}" if prisma_s else "n/a"])
    print_table(f"{args.migrations} small migrations into an empty database (median of {args.repeat}, wall time "
                "of the whole command, backup excluded)",
                ["command", "seconds", "ratio vs psql -1 -f per file", "ratio vs prisma deploy"], rows)
    print(f"\nmigrate vs prisma: {mg_apply / prisma_s:.2f}x (target < 1)" if prisma_s else "\nprisma harness unavailable")
    print(f"migrate vs psql -1 -f per file: {mg_apply / psql_files:.2f}x (target <= 2)")
    print(f"migrate vs one psql process: {mg_apply / results['psql, one process, one transaction per file']:.2f}x")


if __name__ == "__main__":
    main()
