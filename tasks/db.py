"""Database access: psycopg 3 connections with a timeout and an application name, and the
classification of failures by SQLSTATE (never by message text) into DESIGN.md's categories."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote

import psycopg
from psycopg import conninfo as pg_conninfo

from migration_guard.tasks.errors import Category, ConfigError, DatabaseError
from migration_guard.tasks.interrupts import track_connection
from migration_guard.tasks.sql.identifiers import quoted as quoted_identifier
from migration_guard.tasks.secrets import URL_ENCODE_HINT, mask_dsn, passwords_in, redact, repaired_dsn, unparseable_userinfo

APPLICATION_NAME = "migration-guard"


def connect(
    dsn: str,
    *,
    connect_timeout: int = 5,
    autocommit: bool = True,
    application_name: str = APPLICATION_NAME,
    **options: Any,
) -> psycopg.Connection:
    """Open a psycopg connection, or raise a classified :class:`DatabaseError`.

    Args:
        dsn: PostgreSQL URL or keyword DSN (may carry a password; it never reaches messages).
        connect_timeout: seconds before giving up on the server.
        autocommit: psycopg autocommit mode (read-only checks want True).
        application_name: shown in pg_stat_activity, so DBAs can tell who holds a lock.

    Raises:
        ConfigError: a URL whose user or password holds reserved characters unencoded (it would be
            split in the wrong place and its password shown as a host or database name).
        DatabaseError: the connection failed (classified).
    """
    if unparseable_userinfo(dsn) is not None:
        raise ConfigError(f"the connection string for {describe_target(dsn)} does not parse", URL_ENCODE_HINT)
    problem = dsn_problem(dsn)
    if problem is not None:
        where = f" for {describe_target(dsn)}" if _conninfo(dsn) else ""
        raise ConfigError(f"the connection string{where}: {problem}")
    started = time.monotonic()
    try:
        conn = psycopg.connect(
            libpq_dsn(dsn),
            connect_timeout=connect_timeout,
            application_name=application_name,
            autocommit=autocommit,
            **options,
        )
    except psycopg.Error as exc:
        if time.monotonic() - started >= connect_timeout * 0.95 and getattr(exc, "pgresult", None) is None:
            raise _timed_out(dsn, connect_timeout) from None
        raise classify_error(exc, dsn) from None
    track_connection(conn)  # an interrupt cancels its running statement (tasks/interrupts.py)
    return conn


def _timed_out(dsn: str, connect_timeout: int) -> DatabaseError:
    """A connection attempt that used its whole connect_timeout: the server did not answer in time."""
    target = describe_target(dsn)
    return DatabaseError(
        f"timed out after {connect_timeout} s connecting to {target}: the server did not answer",
        "check that the server is up and not overloaded (pg_isready), and firewalls; raise CONNECT_TIMEOUT "
        "if the network is slow",
        category=Category.TIMEOUT, kind="timeout", original=f"connect_timeout={connect_timeout}s expired",
    )


@contextmanager
def connection(dsn: str, **kwargs: Any) -> Iterator[psycopg.Connection]:
    """``with connection(dsn) as conn:`` — connect(), closed on exit; errors classified."""
    conn = connect(dsn, **kwargs)
    try:
        yield conn
    except psycopg.Error as exc:
        raise classify_error(exc, dsn) from None
    finally:
        conn.close()


#: query parameters Prisma accepts in DATABASE_URL that libpq would reject
PRISMA_ONLY_PARAMS = frozenset({
    "schema", "connection_limit", "pool_timeout", "pgbouncer", "sslaccept", "socket_timeout",
    "statement_cache_size", "connect_timeout_ms", "sslidentity", "sslpassword", "sslcert_pem",
})


def libpq_dsn(dsn: str) -> str:
    """The DSN without Prisma-only URL parameters (``?schema=public`` ...), which libpq rejects."""
    if "://" not in dsn or "?" not in dsn:
        return dsn
    base, _, query = dsn.partition("?")
    kept = [p for p in query.split("&") if p and p.split("=", 1)[0] not in PRISMA_ONLY_PARAMS]
    return f"{base}?{'&'.join(kept)}" if kept else base


#: connection parameters whose value libpq checks only when connecting, with the values it accepts
_ENUMERATED_PARAMS = {
    "sslmode": ("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
    "gssencmode": ("disable", "prefer", "require"),
    "channel_binding": ("disable", "prefer", "require"),
    "target_session_attrs": ("any", "read-write", "read-only", "primary", "standby", "prefer-standby"),
    "load_balance_hosts": ("disable", "random"),
    "sslnegotiation": ("postgres", "direct"),
    "sslcertmode": ("disable", "allow", "require"),
}
_URL_EXAMPLE = "postgresql://user:password@host:5432/dbname"
_KEYWORD_START = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\s*=")
_OTHER_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_MISTYPED_POSTGRES_SCHEME = re.compile(r"(?i)postgres(?:ql)?[:/\\]{1,3}")
_LIBPQ_QUOTED = re.compile(r'"([^"]*)"')


def dsn_problem(dsn: str) -> str | None:
    """What is wrong with a connection string, in one line that shows no part of its password
    (nothing of a value that does not parse is echoed); None when libpq would accept it.

    Checks what libpq itself only finds when connecting (a port that is not a number, an unknown
    ``sslmode`` ...), so a typo is a configuration error, never an unreachable server. A message
    starting "does not parse" means the string could not be split into its parts.
    """
    text = dsn.strip()
    if not text:
        return None
    is_url = text.startswith(("postgresql://", "postgres://"))  # libpq knows these two, in lower case
    if not is_url and not _KEYWORD_START.match(text):
        return _not_a_connection_string(text)
    if is_url:
        if unparseable_userinfo(text) is not None:
            return f"does not parse: a reserved character is left unencoded in the user or password; {URL_ENCODE_HINT}"
        problem = _url_syntax_problem(text)
        if problem is not None:
            return problem
    try:
        params = pg_conninfo.conninfo_to_dict(libpq_dsn(text))
    except psycopg.ProgrammingError as exc:
        return f"does not parse: {_scrubbed_parse_error(str(exc), text)}"
    return _value_problem({k: str(v) for k, v in params.items() if v is not None}, text)


def _not_a_connection_string(text: str) -> str:
    expected = f"expected a PostgreSQL URL like {_URL_EXAMPLE} (or key=value settings: host=... dbname=...)"
    mistyped = _MISTYPED_POSTGRES_SCHEME.match(text)
    if mistyped:
        return f"{expected}; the value starts {mistyped[0]!r}: write the scheme as postgresql:// (lower case, two slashes)"
    other = _OTHER_SCHEME.match(text)
    if other:
        return f"{expected}; the value is a {other[0]!r} URL"
    return f"{expected}; the value given is neither (not shown: it may hold a password)"


def _url_syntax_problem(url: str) -> str | None:
    """Brackets and query parameter names of a URL whose user-info parses (see unparseable_userinfo)."""
    rest = url.partition("://")[2]
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    hosts = authority.rpartition("@")[2]
    depth = 0
    for char in hosts:
        depth += {"[": 1, "]": -1}.get(char, 0)
        if depth not in (0, 1):
            break
    if depth != 0:
        return (f"does not parse: unbalanced {'[' if depth > 0 else ']'} in the host part: an IPv6 address goes "
                "between [ and ], e.g. postgresql://user@[::1]:5432/dbname")
    known = {option.keyword.decode() for option in psycopg.pq.Conninfo.get_defaults()} | PRISMA_ONLY_PARAMS
    query = rest.partition("?")[2]
    for pair in query.split("&") if query else []:
        name = unquote(pair.partition("=")[0])
        if name and name not in known:
            return (f"does not parse: unknown connection parameter ?{name}= (libpq's parameters: "
                    "https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-PARAMKEYWORDS)")
    return None


def _scrubbed_parse_error(message: str, dsn: str) -> str:
    """libpq's parse error with every quoted piece of the input removed (it quotes the whole URI
    or the offending token, which can be the password); a quoted parameter name is kept."""
    secrets = passwords_in(dsn)
    known = {option.keyword.decode() for option in psycopg.pq.Conninfo.get_defaults()}

    def scrub(match: re.Match[str]) -> str:
        piece = match[1]
        keep = len(piece) <= 1 or (piece in known and not any(piece in secret for secret in secrets))
        return match[0] if keep else '"…"'

    first_line = message.strip().splitlines()[0] if message.strip() else "libpq could not parse it"
    return redact(_LIBPQ_QUOTED.sub(scrub, first_line), secrets)


def _value_problem(params: dict[str, str], dsn: str) -> str | None:
    """A port, connect_timeout or enumerated parameter (sslmode ...) libpq would refuse when connecting."""
    secrets = passwords_in(dsn)

    def shown(value: str) -> str:
        return repr(value) if not any(value and value in secret for secret in secrets) else "(not shown)"

    for port in params.get("port", "").split(",") if params.get("port") else []:
        if port and not (port.isdigit() and 1 <= int(port) <= 65535):
            return f"port {shown(port)} is not a port number: one number from 1 to 65535, e.g. {_URL_EXAMPLE}"
    timeout = params.get("connect_timeout")
    if timeout is not None and not timeout.strip().lstrip("-").isdigit():
        return f"connect_timeout {shown(timeout)} is not a number of seconds"
    for name, allowed in _ENUMERATED_PARAMS.items():
        value = params.get(name)
        if value is not None and value not in allowed:
            return f"{name} {shown(value)} is not valid: use one of {', '.join(allowed)}"
    return None


def dsn_with_password(dsn: str, password: str) -> str:
    """``dsn`` carrying ``password`` (quoted as its format needs: percent-encoded in a URL, quoted in a
    keyword DSN), for a password kept apart from the URL (DATABASE_PASSWORD).

    Raises:
        ConfigError: the DSN already carries a password (two sources: keep one).
    """
    from urllib.parse import quote

    if _conninfo(dsn).get("password"):
        raise ConfigError(
            "DATABASE_URL already carries a password and DATABASE_PASSWORD is set",
            "keep one: remove the password from DATABASE_URL, or unset DATABASE_PASSWORD",
        )
    if "://" not in dsn:
        return pg_conninfo.make_conninfo(dsn, password=password)
    scheme, _, rest = dsn.partition("://")
    authority_end = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    at = rest.rfind("@", 0, authority_end)
    user, hosts = (rest[:at], rest[at + 1:]) if at >= 0 else ("", rest)
    return f"{scheme}://{user}:{quote(password, safe='')}@{hosts}"


def schema_from_dsn(dsn: str) -> str | None:
    """The ``schema`` URL parameter Prisma uses to place its tables, if present."""
    if "://" not in dsn or "?" not in dsn:
        return None
    for param in dsn.partition("?")[2].split("&"):
        key, _, value = param.partition("=")
        if key == "schema" and value:
            return unquote(value)
    return None


def describe_target(dsn: str) -> str:
    """``host:port/dbname`` of a DSN, without user or password."""
    params = _conninfo(dsn)
    host = params.get("host") or "localhost"
    port = params.get("port") or "5432"
    return f"{host}:{port}/{params.get('dbname') or params.get('user') or ''}"


def database_name(dsn: str) -> str:
    """The database a DSN points at (libpq's default: the user name)."""
    params = _conninfo(dsn)
    return params.get("dbname") or params.get("user") or "postgres"


def _conninfo(dsn: str) -> dict[str, str]:
    try:
        return {k: str(v) for k, v in pg_conninfo.conninfo_to_dict(libpq_dsn(repaired_dsn(dsn))).items() if v is not None}
    except psycopg.ProgrammingError:
        return {}


_SQLSTATE_CLASSES: list[tuple[str, Category, str, str, str]] = [
    # (prefix, category, kind, message, suggestion)
    ("28P01", Category.PERMISSION, "bad_password", "password authentication failed",
     "check the user and password in DATABASE_URL"),
    ("28", Category.PERMISSION, "bad_password", "the server rejected the login",
     "check the user, password and pg_hba.conf entry for this client"),
    ("3D000", Category.DATABASE_CONNECTION, "missing_database", "the database does not exist",
     "create it (createdb NAME) or fix the database name in DATABASE_URL"),
    ("42501", Category.PERMISSION, "permission", "permission denied",
     "grant the role the privilege it needs (GRANT ...) or run as the owner of the objects"),
    ("55P03", Category.TIMEOUT, "lock_timeout", "gave up waiting for a lock (lock_timeout)",
     "find the long transactions that hold locks: SELECT pid, state, xact_start, left(query, 80) FROM pg_stat_activity "
     "WHERE xact_start < now() - interval '30 seconds' ORDER BY xact_start"),
    ("57014", Category.TIMEOUT, "statement_timeout", "the statement was cancelled (statement_timeout or cancel request)",
     "raise STATEMENT_TIMEOUT or run the statement when the database is quieter"),
    ("57P01", Category.DATABASE_CONNECTION, "terminated", "the server terminated the connection (admin shutdown)",
     "check whether PostgreSQL was restarted or the backend was killed, then re-run"),
    ("57P03", Category.DATABASE_CONNECTION, "starting_up", "the database server is starting up or shutting down",
     "wait for PostgreSQL to accept connections (pg_isready), then re-run"),
    ("53300", Category.DATABASE_CONNECTION, "too_many_connections", "too many connections",
     "free connections or raise max_connections; check pg_stat_activity for idle sessions"),
    ("08", Category.DATABASE_CONNECTION, "connection", "the connection to the server failed",
     "check that PostgreSQL is running and reachable: pg_isready -h HOST -p PORT"),
    ("25006", Category.PERMISSION, "read_only", "the transaction is read-only",
     "connect to the primary, or unset default_transaction_read_only for this role"),
]


def classify_error(exc: BaseException, dsn: str = "") -> DatabaseError:
    """Turn a psycopg error into a :class:`DatabaseError` with category, kind and advice.

    The SQLSTATE decides when the server sent one. Connection failures that never reached a
    server (no SQLSTATE) are told apart by probing the address: DNS failure, refused, timeout.
    """
    if isinstance(exc, DatabaseError):
        return exc
    secrets = passwords_in(dsn) if dsn else []
    original = redact(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__, secrets)
    target = describe_target(dsn) if dsn else "the database"
    sqlstate = getattr(exc, "sqlstate", None) or _diag_sqlstate(exc)
    if sqlstate:
        for prefix, category, kind, message, suggestion in _SQLSTATE_CLASSES:
            if sqlstate.startswith(prefix):
                return DatabaseError(
                    f"{message} ({target}, SQLSTATE {sqlstate}): {original}",
                    with_connection_values(suggestion, dsn),
                    category=category, kind=kind, sqlstate=sqlstate, original=original,
                )
        return DatabaseError(
            f"database error at {target} (SQLSTATE {sqlstate}): {original}",
            "see the PostgreSQL log for details",
            category=Category.UNKNOWN, kind="other", sqlstate=sqlstate, original=original,
        )
    if isinstance(exc, psycopg.OperationalError) and _lost_mid_session(original):
        ready = with_connection_values("pg_isready -h HOST -p PORT answers", dsn) if dsn else \
            "the server accepts connections again"
        return DatabaseError(
            f"connection to {target} lost: {original}",
            "the server closed the session (a restart, a crash or a terminated backend), not a fault of the SQL; "
            f"once {ready}, re-run the command",
            category=Category.DATABASE_CONNECTION, kind="connection", original=original,
        )
    if isinstance(exc, psycopg.OperationalError) and dsn and getattr(exc, "pgresult", None) is None:
        return _classify_unreached(dsn, original, exc)
    return DatabaseError(
        f"database error at {target}: {original}", "see the PostgreSQL log for details",
        category=Category.UNKNOWN, original=original,
    )


#: libpq / psycopg texts of an established session that died (no SQLSTATE reached us: an immediate
#: restart, a crash, a network cut); a failed connection attempt says "connection to server ... failed"
_LOST_SESSION_TEXTS = ("server closed the connection unexpectedly", "consuming input failed", "the connection is closed",
                       "the connection is lost", "could not receive data from server", "could not send data to server",
                       "no connection to the server", "ssl syscall error")


def _lost_mid_session(message: str) -> bool:
    lowered = message.lower()
    return any(t in lowered for t in _LOST_SESSION_TEXTS) and "connection to server at" not in lowered \
        and not lowered.startswith("connection failed")


def with_connection_values(advice: str, dsn: str) -> str:
    """``advice`` with the HOST / PORT / NAME placeholders of a suggested command replaced by the
    DSN's own values (shell-quoted), so it runs when pasted."""
    import shlex

    params = _conninfo(dsn) if dsn else {}
    host = params.get("host") or params.get("hostaddr") or "localhost"
    port = (params.get("port") or "5432").split(",")[0]
    name = params.get("dbname") or params.get("user") or "postgres"
    connection = f"-h {shlex.quote(host)} -p {shlex.quote(port)}"
    as_user = f" -U {shlex.quote(params['user'])}" if params.get("user") else ""
    return (advice.replace("pg_isready -h HOST -p PORT", f"pg_isready {connection}")
            .replace("createdb NAME", f"createdb {connection}{as_user} {shlex.quote(name)}")
            .replace("getent hosts HOST", f"getent hosts {shlex.quote(host)}"))


def _diag_sqlstate(exc: BaseException) -> str | None:
    diag = getattr(exc, "diag", None)
    try:
        return diag.sqlstate if diag is not None else None
    except Exception:  # noqa: BLE001 - diag access on a broken result must not mask the error
        return None


def _classify_unreached(dsn: str, original: str, failed: BaseException | None = None) -> DatabaseError:
    """Classify a connection that failed before any SQLSTATE reached us.

    libpq does not expose the SQLSTATE of a connection-time error, so we ask the server again
    instead of reading its message: probe the address (DNS, refused, timeout), then connect to a
    maintenance database with the same credentials — if that works the login is fine and the
    target database is missing or not allowed; if it fails after sending a password, the password
    is wrong.
    """
    params = _conninfo(dsn)
    host = params.get("host") or params.get("hostaddr") or ""
    target = describe_target(dsn)
    try:
        port = int(params.get("port") or 5432)
    except ValueError:  # a typo ("5432x") or several hosts' ports: libpq refused it, nothing to probe
        return DatabaseError(
            f"cannot connect to {target}: {original}",
            "fix the port in DATABASE_URL (one number, e.g. 5432)",
            category=Category.CONFIGURATION, kind="bad_dsn", original=original,
        )
    if host and not host.startswith("/"):
        network_error = _probe_address(host, port, target, original)
        if network_error is not None:
            return network_error
    return _probe_login(dsn, params, target, original, failed)


def _probe_address(host: str, port: int, target: str, original: str) -> DatabaseError | None:
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return DatabaseError(
            f"cannot resolve host {host!r} ({target}): {original}",
            with_connection_values("check the host name in DATABASE_URL and DNS (getent hosts HOST)", f"host={host}"),
            category=Category.DATABASE_CONNECTION, kind="dns_failure", original=original,
        )
    try:
        with socket.create_connection((host, port), timeout=2):
            return None
    except ConnectionRefusedError:
        return DatabaseError(
            f"connection refused by {host}:{port} ({target}): is PostgreSQL running there?",
            with_connection_values("start PostgreSQL or fix host/port in DATABASE_URL; check with: pg_isready -h HOST -p PORT",
                                   f"host={host} port={port}"),
            category=Category.DATABASE_CONNECTION, kind="connection_refused", original=original,
        )
    except (TimeoutError, socket.timeout):
        return DatabaseError(
            f"timed out connecting to {host}:{port} ({target})",
            "check firewalls and that the server is up; raise CONNECT_TIMEOUT if the network is slow",
            category=Category.TIMEOUT, kind="timeout", original=original,
        )
    except OSError:
        return None


def _probe_login(
    dsn: str, params: dict[str, str], target: str, original: str, failed: BaseException | None
) -> DatabaseError:
    dbname = params.get("dbname") or params.get("user") or ""
    used_password = bool(getattr(getattr(failed, "pgconn", None), "used_password", False))
    for maintenance_db in ("postgres", "template1"):
        if maintenance_db == dbname:
            continue
        probe = {**params, "dbname": maintenance_db, "connect_timeout": "3"}
        try:
            with psycopg.connect(pg_conninfo.make_conninfo(**probe), application_name=APPLICATION_NAME) as conn:
                exists, allowed = conn.execute(
                    "SELECT count(*) > 0, coalesce(bool_or(has_database_privilege(oid, 'CONNECT')), false) "
                    "FROM pg_database WHERE datname = %s",
                    (dbname,),
                ).fetchone()
        except psycopg.Error as exc:
            if getattr(getattr(exc, "pgconn", None), "used_password", False) or used_password:
                return DatabaseError(
                    f"password authentication failed ({target})",
                    "check the user and password in DATABASE_URL",
                    category=Category.PERMISSION, kind="bad_password", sqlstate="28P01", original=original,
                )
            continue
        if not exists:
            return DatabaseError(
                f"database {dbname!r} does not exist ({target})",
                with_connection_values("create it (createdb NAME) or fix the database name in DATABASE_URL", dsn),
                category=Category.DATABASE_CONNECTION, kind="missing_database", sqlstate="3D000",
                original=original,
            )
        if not allowed:
            return DatabaseError(
                f"the role may not connect to database {dbname!r} ({target})",
                f"as the database owner: GRANT CONNECT ON DATABASE {quoted_identifier(dbname)} TO "
                f"{quoted_identifier(params.get('user') or 'postgres')}",
                category=Category.PERMISSION, kind="permission", sqlstate="42501", original=original,
            )
        break
    if used_password:
        return DatabaseError(
            f"password authentication failed ({target})",
            "check the user and password in DATABASE_URL",
            category=Category.PERMISSION, kind="bad_password", sqlstate="28P01", original=original,
        )
    return DatabaseError(
        f"cannot connect to {target}: {original}",
        with_connection_values("check that PostgreSQL is running and reachable (pg_isready -h HOST -p PORT) and "
                               "that pg_hba.conf admits this client", dsn),
        category=Category.DATABASE_CONNECTION, kind="connection", original=original,
    )


__all__ = ["APPLICATION_NAME", "classify_error", "connect", "connection", "database_name",
           "describe_target", "libpq_dsn", "mask_dsn", "schema_from_dsn"]
