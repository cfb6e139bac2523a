"""Run every benchmark and write bench/REPORT.md (each figure, its same-run baseline, ratio, target).

Usage: .venv/bin/python bench/run_all.py [--only NAME ...] [--timeout 600] [--quick]
Each benchmark is a script in bench/ that prints Markdown tables; this collects them in one report.
`--quick` passes each script its smaller-size options (listed below) so the whole run stays short.
With `--only`, the other benchmarks' sections of the existing report are kept as they are (each
section says when it was produced), so one benchmark can be re-run without losing the rest.
`scoped_backup.py` runs only when named: at its issue's size (`--gib 10.5`) it needs ~25 GB of disk
and ~25 minutes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

#: script -> (what it measures, extra args for --quick)
BENCHMARKS: dict[str, tuple[str, list[str]]] = {
    "status_scale.py": ("status on 1,000 migrations vs prisma migrate status", ["--repeat", "3"]),
    "lint_speed.py": ("lint of a 2,000-statement file vs squawk", ["--repeat", "1"]),
    "apply_overhead.py": ("200 migrations: migrate vs psql -1 -f vs prisma migrate deploy", ["--repeat", "1"]),
    "availability.py": ("client latency while migrating behind a long transaction", []),
    "backup_speed.py": ("backup vs pg_dump -Fc vs raw COPY read", ["--mib", "60", "--rounds", "1"]),
    "healthcheck_fleet.py": ("healthcheck of 1/10/50 databases against a Prefect server", ["--repeat", "1"]),
    "history_cost.py": ("health history: what the history checks and the record step cost a healthcheck, per database", ["--repeat", "7"]),
    "forecast_accuracy.py": ("capacity forecast precision/recall on planted events", ["--cases", "40"]),
    "recovery_time.py": ("seed incident recovered end to end on a large database", ["--size-mb", "128"]),
    "anomaly_accuracy.py": ("seasonal anomaly detection precision/recall on planted events", []),
    "squawk_conformance.py": ("agreement with squawk on its own rule tests", []),
    "scoped_backup.py": ("scoped vs full pre-migrate backups on a >= 10 GB database", ["--gib", "0.4"]),
}

#: run only when named with --only (too long or too disk-hungry for a routine run)
ON_REQUEST = {"scoped_backup.py"}

SECTION = "\n## "


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", help="script names to run (default: all)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per benchmark")
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--output", type=Path, default=BENCH / "REPORT.md")
    args = parser.parse_args()
    selected = [name for name in BENCHMARKS
                if (not args.only and name not in ON_REQUEST)
                or (args.only and (name in args.only or name.removesuffix(".py") in args.only))]
    kept = _sections(args.output) if args.output.exists() else {}
    command = " ".join(["python", "bench/run_all.py", *sys.argv[1:]])
    sections = [
        "# migration-guard benchmark report\n",
        f"- produced by: `{command}`",
        f"- date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M UTC}",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "- every figure is compared with a baseline measured in the same run (ratio column)\n",
    ]
    for name in BENCHMARKS:
        if name not in selected:
            if name in kept:
                sections.append(kept[name])
            continue
        script = BENCH / name
        what, quick_args = BENCHMARKS[name]
        sections.append(f"\n## {name} — {what}\n")
        sections.append(f"_produced {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M UTC} by "
                        f"`python bench/{name}{' ' + ' '.join(quick_args) if args.quick and quick_args else ''}`_\n")
        if not script.exists():
            sections.append("_not present in this checkout_\n")
            continue
        started = time.perf_counter()
        try:
            done = subprocess.run(
                [sys.executable, str(script), *(quick_args if args.quick else [])],
                capture_output=True, text=True, timeout=args.timeout, cwd=ROOT,
            )
            output, status = done.stdout.strip(), f"exit {done.returncode}"
            if done.returncode != 0:
                output += "\n\n```\n" + done.stderr.strip()[-2000:] + "\n```"
        except subprocess.TimeoutExpired:
            output, status = "", f"timed out after {args.timeout:.0f} s"
        elapsed = time.perf_counter() - started
        sections.append(output or "_no output_")
        sections.append(f"\n_{status}, {elapsed:.1f} s_\n")
        print(f"{name}: {status} in {elapsed:.1f} s", file=sys.stderr)
    args.output.write_text("\n".join(sections) + "\n")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _sections(report: Path) -> dict[str, str]:
    """The existing report's sections by script name (``## name.py — ...`` up to the next one)."""
    text = report.read_text()
    found: dict[str, str] = {}
    for chunk in text.split(SECTION)[1:]:
        name = chunk.split(" ", 1)[0]
        if name.endswith(".py"):
            found[name] = "\n## " + chunk.rstrip("\n") + "\n"
    return found


if __name__ == "__main__":
    raise SystemExit(main())
