"""A real `prefect server start` on 127.0.0.1 (free port, temp PREFECT_HOME) for deployment tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.pg_server import free_port

PREFECT = Path(sys.executable).with_name("prefect")



def server_env(home: Path, api_url: str | None = None) -> dict[str, str]:
    """Environment for processes talking to the test server (no analytics, quiet, temp home)."""
    env = dict(os.environ)
    env.update({
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    })
    if api_url:
        env["PREFECT_API_URL"] = api_url
    else:
        env.pop("PREFECT_API_URL", None)
    return env


@contextmanager
def running_prefect_server(home: Path, timeout: float = 120) -> Iterator[str]:
    """Start a Prefect server; yield its API URL; stop it (SIGTERM, then SIGKILL) afterwards."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = open(home / "server.log", "w")
    process = subprocess.Popen(
        [str(PREFECT), "server", "start", "--host", "127.0.0.1", "--port", str(port), "--analytics-off"],
        env=server_env(home), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    api_url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"prefect server exited: {(home / 'server.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("prefect server did not become healthy in time")
            time.sleep(0.5)
        yield api_url
    finally:
        stop_process_group(process)
        log.close()


def stop_process_group(process: subprocess.Popen, grace: float = 15) -> None:
    """SIGTERM the process's group, then SIGINT, then SIGKILL if it lingers (workers need both)."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        if process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    process.wait(timeout=10)
