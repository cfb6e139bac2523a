"""Healthcheck of 1, 10 and 50 databases: the Prefect `healthcheck` flow against a running
`prefect server`, with the plain CLI path (no Prefect) as the same-run baseline.

Usage: .venv/bin/python bench/healthcheck_fleet.py [--sizes 1 10 50] [--repeat 2]
Starts `prefect server start --host 127.0.0.1 --port <free> --analytics-off` in a temporary
PREFECT_HOME and stops it at the end. Every database gets every built-in check plus one
freshness check and one SQL assertion. Target: 50 databases in under 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ADMIN_URL, ROOT, median_seconds, print_table, run  # noqa: E402

MG = str(ROOT / ".venv" / "bin" / "migration-guard")
PREFECT = str(ROOT / ".venv" / "bin" / "prefect")
TARGET_SECONDS = 10.0


@contextmanager
def fleet(count: int) -> Iterator[list[str]]:
    """``count`` small databases (cloned from one template with a job table); dropped afterwards."""
    prefix = f"mg_fleet_{uuid.uuid4().hex[:6]}"
    template = f"{prefix}_tpl"
    names = [f"{prefix}_{i:03d}" for i in range(count)]
    base = ADMIN_URL.rsplit("/", 1)[0]
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(template)))
        with psycopg.connect(f"{base}/{template}", autocommit=True) as conn:
            conn.execute("CREATE TABLE late_fee_runs (processed_at timestamptz)")
            conn.execute("INSERT INTO late_fee_runs VALUES (now() - interval '1 hour')")
            conn.execute("CREATE TABLE accounts (id int, balance numeric)")
        for name in names:
            admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
    try:
        yield [f"{base}/{name}" for name in names]
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            for name in [*names, template]:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def write_config(path: Path, urls: list[str]) -> Path:
    config = {
        "databases": [{"name": f"db{i:03d}", "url": url} for i, url in enumerate(urls)],
        "freshness": [{"name": "late_fee_processing", "query": "SELECT max(processed_at) FROM late_fee_runs",
                       "period": "24h", "grace": "1h"}],
        "assertions": [{"name": "no_negative_balances", "query": "SELECT count(*) FROM accounts WHERE balance < 0",
                        "comparison": "==", "threshold": 0, "severity": "HIGH", "message": "Negative balances"}],
    }
    path.write_text(json.dumps(config))
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def prefect_server(home: Path) -> Iterator[str]:
    """A `prefect server` on a free port; yields its API URL; stopped (its own process group) at exit."""
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_UI_ENABLED": "false"}
    log = open(home / "server.log", "w")
    server = subprocess.Popen([PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port), "--analytics-off"],
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    api = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(api + "/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"prefect server did not start; see {home / 'server.log'}")
            time.sleep(0.5)
        yield api
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, fleet(max(args.sizes)) as urls, prefect_server(Path(tmp)) as api:
        root = Path(tmp)
        base_env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "MIGRATIONS_DIR"}}
        base_env.update({"PREFECT_HOME": str(root), "PREFECT_API_URL": api, "PREFECT_LOGGING_LEVEL": "WARNING",
                         "ALERTS_DIR": str(root / "alerts"), "LOG_DIR": str(root / "logs"), "ENVIRONMENT": "bench"})
        for size in args.sizes:
            config = write_config(root / f"fleet-{size}.json", urls[:size])
            flow_seconds: list[float] = []

            def plain() -> None:
                done = run([MG, "healthcheck", "--json", "--config", str(config)], env=base_env, cwd=root)
                assert done.returncode == 0, done.stdout[-1500:] + done.stderr[-1500:]

            def as_flow() -> None:
                done = run([MG, "healthcheck", "--flow", "--json", "--config", str(config)], env=base_env, cwd=root)
                assert done.returncode == 0, done.stdout[-1500:] + done.stderr[-1500:]
                flow_seconds.append(json.loads(done.stdout)["duration_ms"] / 1000)

            plain_s = median_seconds(plain, args.repeat)
            flow_s = median_seconds(as_flow, args.repeat)
            checks = len(json.loads(run([MG, "healthcheck", "--json", "--no-alerts", "--config", str(config)],
                                        env=base_env, cwd=root).stdout)["checks"])
            checks_s = sorted(flow_seconds)[len(flow_seconds) // 2]
            rows.append([size, checks, f"{flow_s:.2f}", f"{checks_s:.2f}", f"{1000 * checks_s / size:.0f}",
                         f"{plain_s:.2f}", f"{flow_s / plain_s:.2f}",
                         ("PASS" if flow_s < TARGET_SECONDS else "FAIL") if size >= 50 else ""])
    print_table(
        "healthcheck fleet: Prefect flow against a running server vs plain CLI (same run)",
        ["databases", "checks", "flow process wall s", "of which checks s", "ms per database (checks)",
         "plain CLI wall s (baseline)", "ratio flow/plain", f"50 dbs < {TARGET_SECONDS:.0f} s"],
        rows,
    )


if __name__ == "__main__":
    main()
