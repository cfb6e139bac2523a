"""Finding pg_dump / pg_restore whose major version is at least the server's.

A pg_dump older than the server refuses to dump it; a much newer one writes archives an older
pg_restore cannot read. So we pick the closest major that is >= the server's, from PATH, from
``$PG_BIN_DIR`` and from Debian's ``/usr/lib/postgresql/<N>/bin``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from migration_guard.tasks.backup.errors import BackupToolError

DEBIAN_ROOT = Path("/usr/lib/postgresql")
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class PgTools:
    """A matching pair of client tools."""

    pg_dump: Path
    pg_restore: Path
    major: int
    version: str  # e.g. "15.20"


@lru_cache(maxsize=64)
def tool_version(path: str) -> tuple[int, str] | None:
    """(major, "major.minor") reported by ``path --version``, or None when it does not run."""
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION.search(done.stdout)
    if done.returncode != 0 or not match:
        return None
    major = int(match[1])
    return major, f"{major}.{match[2]}" if match[2] else str(major)


def candidate_dirs(extra: list[Path] | None = None) -> list[Path]:
    """Folders that may hold client tools: $PG_BIN_DIR, explicit ones, Debian's, then PATH's."""
    dirs: list[Path] = []
    if os.environ.get("PG_BIN_DIR"):
        dirs.append(Path(os.environ["PG_BIN_DIR"]))
    dirs.extend(extra or [])
    if DEBIAN_ROOT.is_dir():
        versions = sorted((p for p in DEBIAN_ROOT.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
        dirs.extend(p / "bin" for p in versions)
    found = shutil.which("pg_dump")
    if found:
        dirs.append(Path(found).parent)
    unique: list[Path] = []
    for d in dirs:
        if d not in unique:
            unique.append(d)
    return unique


def available_tools(extra: list[Path] | None = None) -> list[PgTools]:
    """Every folder with a runnable pg_dump and pg_restore of the same version."""
    result: list[PgTools] = []
    for folder in candidate_dirs(extra):
        dump, restore = folder / "pg_dump", folder / "pg_restore"
        if not (dump.exists() and restore.exists()):
            continue
        dump_version, restore_version = tool_version(str(dump)), tool_version(str(restore))
        if dump_version and dump_version == restore_version:
            result.append(PgTools(dump, restore, dump_version[0], dump_version[1]))
    return result


def find_tools(server_major: int, server_version: str = "", extra: list[Path] | None = None) -> PgTools:
    """The client tools to use against a server of major version ``server_major``.

    Raises:
        BackupToolError: none installed, or all older than the server (names the server version
            and the package to install).
    """
    tools = available_tools(extra)
    fitting = sorted((t for t in tools if t.major >= server_major), key=lambda t: t.major)
    if fitting:
        return fitting[0]
    shown = server_version or str(server_major)
    install = (
        f"install the PostgreSQL {server_major} client tools (Debian/Ubuntu: apt-get install postgresql-client-{server_major}; "
        f"RHEL: dnf install postgresql{server_major}) or point PG_BIN_DIR at their bin folder"
    )
    if not tools:
        raise BackupToolError(f"pg_dump/pg_restore not found (server is PostgreSQL {shown})", install)
    found = ", ".join(f"{t.version} at {t.pg_dump}" for t in tools)
    raise BackupToolError(
        f"no pg_dump/pg_restore of major version >= {server_major} (server is PostgreSQL {shown}; found {found}); "
        "an older pg_dump cannot dump a newer server",
        install,
    )
