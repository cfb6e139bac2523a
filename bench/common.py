"""Shared helpers for the benchmark scripts: timing, tables, scratch databases."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def median_seconds(action: Callable[[], object], repeat: int = 5) -> float:
    """Median wall time of ``repeat`` runs of ``action``."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def run(cmd: Sequence[str], **kwargs) -> subprocess.CompletedProcess[str]:
    """Run a command (never through a shell), capturing output."""
    return subprocess.run(list(cmd), capture_output=True, text=True, **kwargs)


@contextmanager
def scratch_database(prefix: str = "mg_bench") -> Iterator[str]:
    """A new empty database for one benchmark, dropped afterwards; yields its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain Markdown table on stdout (bench/run_all.py collects these)."""
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")


def prisma_cli() -> str | None:
    """Path of the real Prisma CLI from the team's prisma-harness (installed with npm on first
    use), or None when the harness or npm is missing."""
    for setup in (ROOT.parent / "shared" / "prisma-harness" / "setup.sh", Path("/work/shared/prisma-harness/setup.sh")):
        if setup.exists():
            done = run(["bash", str(setup)])
            return done.stdout.strip().splitlines()[-1] + "/prisma" if done.returncode == 0 else None
    return None

