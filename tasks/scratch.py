"""migration-guard's own scratch databases (``mg_shadow_*`` drift-check shadows, ``mg_verify_*``
restore checks): named and tagged so that a leftover — its creator killed, the server restarted
mid-check — is recognised and dropped by the next run, the maintenance workflow, or reported by
the healthcheck.

A scratch database is named ``<prefix>_<start epoch>_<creator pid>_<random>`` and carries a
COMMENT ``migration-guard scratch {"pid": …, "host": …, "started": …}``. Its creator is gone when
the comment's (or the name's) host is this machine and that pid is no longer alive, or when it is
older than a safe age (a creator on another host cannot be asked).
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from psycopg import sql

#: the prefixes of every scratch database migration-guard creates
PREFIXES = ("mg_shadow", "mg_verify")
COMMENT_TAG = "migration-guard scratch "
#: a scratch database older than this is dropped whoever created it (no check runs that long)
SAFE_AGE_SECONDS = 24 * 3600.0
#: a scratch database with our name but no COMMENT is dropped after this long (tagging takes ms)
UNTAGGED_AGE_SECONDS = 3600.0
_log = logging.getLogger("migration_guard.scratch")
_NAME = re.compile(r"^(mg_shadow|mg_verify)_(?:(\d{10})_(\d+)_)?[0-9a-f]+$")


def scratch_name(prefix: str) -> str:
    """A new scratch database name: ``<prefix>_<epoch>_<pid>_<random>`` (at most 63 bytes)."""
    return f"{prefix}_{int(time.time())}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


def creator_comment() -> str:
    """The COMMENT a scratch database carries: who created it, where, when."""
    return COMMENT_TAG + json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                     "started": datetime.now(UTC).isoformat(timespec="seconds")})


def create_scratch_database(conn: psycopg.Connection, name: str, template: str = "template0") -> None:
    """CREATE DATABASE ``name`` and tag it with :func:`creator_comment` (``conn`` in autocommit).
    Leftovers of dead creators on this server are dropped first (best effort)."""
    try:
        collect_scratch_databases(conn)
    except psycopg.Error:
        pass
    conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
    conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name), sql.Literal(creator_comment())))


@dataclass(frozen=True)
class ScratchDatabase:
    """A scratch database found on the server, its creator, and whether that creator is gone."""

    name: str
    pid: int | None
    host: str | None
    started: datetime | None
    size_bytes: int
    connections: int
    gone: bool
    reason: str

    def describe(self) -> str:
        """One line: name, size, creator, verdict."""
        who = f"pid {self.pid} on {self.host or '?'}" if self.pid else "unknown creator"
        since = f", created {self.started:%Y-%m-%d %H:%M:%S %Z}" if self.started else ""
        return f"{self.name} ({self.size_bytes / 1e6:.1f} MB, {who}{since}): {self.reason}"


def find_scratch_databases(conn: psycopg.Connection, *, safe_age_seconds: float = SAFE_AGE_SECONDS,
                           now: datetime | None = None) -> list[ScratchDatabase]:
    """Every ``mg_shadow_*`` / ``mg_verify_*`` database on the server, judged (one query)."""
    rows = conn.execute(
        "SELECT d.datname, shobj_description(d.oid, 'pg_database'), pg_database_size(d.oid), "
        "(SELECT count(*) FROM pg_stat_activity a WHERE a.datid = d.oid) "
        "FROM pg_database d WHERE d.datname ~ '^mg_(shadow|verify)_' ORDER BY 1"
    ).fetchall()
    now = now or datetime.now(UTC)
    here = socket.gethostname()
    found = []
    for name, comment, size, connections in rows:
        pid, host, started = _creator(name, comment)
        if pid is None and started is None and not _NAME.match(name):
            continue
        age = (now - started).total_seconds() if started else None
        if connections:
            gone, reason = False, f"in use ({connections} connection(s))"
        elif age is not None and age > safe_age_seconds:
            gone, reason = True, f"older than {safe_age_seconds / 3600:g} h"
        elif pid is not None and host == here and not _alive(pid):
            gone, reason = True, f"its creator (pid {pid} on this host) is gone"
        elif host is None and age is not None and age > UNTAGGED_AGE_SECONDS:
            gone, reason = True, "never tagged (its creator died between CREATE and COMMENT)"
        elif pid is None:
            gone, reason = False, "creator unknown; kept until it is older than the safe age"
        else:
            gone, reason = False, "its creator is alive" if host == here else f"created on another host ({host})"
        found.append(ScratchDatabase(name, pid, host, started, int(size or 0), int(connections), gone, reason))
    return found


def collect_scratch_databases(conn: psycopg.Connection, *, safe_age_seconds: float = SAFE_AGE_SECONDS) -> list[str]:
    """Drop the scratch databases whose creator is gone (never one in use); return a line for each."""
    dropped = []
    for leftover in find_scratch_databases(conn, safe_age_seconds=safe_age_seconds):
        if not leftover.gone:
            continue
        try:  # no FORCE: if someone connected meanwhile, it is not a leftover
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(leftover.name)))
        except psycopg.errors.ObjectInUse:
            continue
        dropped.append(f"dropped {leftover.describe()}")
    return dropped


def collect_leftovers(dsn: str, *, connect_timeout: int = 5) -> list[str]:
    """Best effort, at the start of a command: drop the scratch databases on ``dsn``'s server whose
    creator is gone (a run killed or cut off by a restart mid-check); a line for each (logged).
    Never fails the command: an unreachable server or a missing privilege returns []."""
    from migration_guard.tasks.db import connect
    from migration_guard.tasks.errors import MigrationGuardError

    try:
        with connect(dsn, connect_timeout=connect_timeout) as conn:
            dropped = collect_scratch_databases(conn)
    except (MigrationGuardError, psycopg.Error):
        return []
    for line in dropped:
        _log.info("scratch databases: %s", line)
    return dropped


def _creator(name: str, comment: str | None) -> tuple[int | None, str | None, datetime | None]:
    if comment and comment.startswith(COMMENT_TAG):
        try:
            data = json.loads(comment[len(COMMENT_TAG):])
            return int(data["pid"]), str(data["host"]), datetime.fromisoformat(data["started"])
        except (ValueError, KeyError, TypeError):
            pass
    match = _NAME.match(name)
    if match and match.group(2):  # killed between CREATE and COMMENT: the name still says who and when
        return int(match.group(3)), None, datetime.fromtimestamp(int(match.group(2)), UTC)
    return None, None, None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
