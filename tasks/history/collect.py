"""The numeric readings of one monitored database, read on an open (read-only) connection:
connections, the longest transaction, replication lag, wraparound age, size, the transactions
counter (commits + rollbacks: its rate is seasonal), the dead-tuple ratio
of the largest tables, every sequence's last value against its limit, and pg_stat_statements."""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import psycopg
from psycopg import errors, sql

from migration_guard.tasks.sql.identifiers import qualified, quoted_if_needed
from migration_guard.tasks.history.model import (
    CONNECTIONS_USED, DATABASE_SIZE, DEAD_TUPLE_RATIO, LONGEST_TRANSACTION, REPLICATION_LAG, SEQUENCE_VALUE,
    SEQUENCES_SCANNED, TRANSACTIONS, XID_AGE, Observation, StatementCounter,
)
from migration_guard.tasks.history.sequences import EVERY, SequenceScope

WRAPAROUND = 2**31
LARGEST_TABLES = 5
#: the sequences kept per run, the most used first (a schema with thousands stays cheap to record)
SEQUENCES_KEPT = 500
#: the most-called statements kept per snapshot
STATEMENTS_KEPT = 200
QUERY_TEXT_CHARS = 500

#: the largest value each integer column type can hold (a sequence feeding the column stops there)
TYPE_MAXIMUM = {"smallint": 2**15 - 1, "integer": 2**31 - 1, "bigint": 2**63 - 1}

#: every reading in one round trip (the dead tuples and the sequences as JSON arrays). Sizes come
#: from the catalog (relpages x block_size, as of the last VACUUM / ANALYZE): pg_database_size()
#: and pg_total_relation_size() stat() every file, which costs more than all the rest together.
#: A sequence's owning column comes from pg_identify_object_as_address (its unquoted names) in a
#: LATERAL lookup, not four more joins: on a new session planning those took ~14 ms of ~20
#: (bench/history_cost.py)
READINGS = """
SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),
       current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int,
       (SELECT coalesce(max(EXTRACT(EPOCH FROM now() - xact_start)), 0)::float8 FROM pg_stat_activity
         WHERE datname = current_database() AND backend_type = 'client backend' AND xact_start IS NOT NULL
           AND pid <> pg_backend_pid()),
       CASE WHEN pg_is_in_recovery()
            THEN EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8 END,
       (SELECT age(datfrozenxid) FROM pg_database WHERE datname = current_database()),
       (SELECT sum(relpages)::bigint * current_setting('block_size')::bigint FROM pg_class),
       (SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()),
       (SELECT json_agg(json_build_array(nspname, relname, pg_stat_get_dead_tuples(oid)::float8
                                         / nullif(pg_stat_get_live_tuples(oid) + pg_stat_get_dead_tuples(oid), 0)))
        FROM (SELECT c.oid, n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                AND n.nspname !~ '^pg_toast'
              ORDER BY c.relpages DESC, c.oid LIMIT %(largest)s) AS largest),
       {sequences}
"""


SEQUENCES = """(SELECT json_agg(json_build_array(seq_schema, sequence, seqmax::text, last_value::text,
                                         owner[1], owner[2], owner[3], format_type(owner_type, NULL)))
        FROM (SELECT n.nspname AS seq_schema, c.relname AS sequence, s.seqmax, lv.last_value, o.atttypid AS owner_type,
                     (pg_identify_object_as_address('pg_class'::regclass, o.refobjid, o.refobjsubid)).object_names AS owner
              FROM pg_sequence s
              JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
              CROSS JOIN LATERAL (SELECT CASE WHEN has_sequence_privilege(c.oid, 'SELECT,USAGE')
                                              THEN pg_sequence_last_value(c.oid) END AS last_value) AS lv
              LEFT JOIN LATERAL (SELECT d.refobjid, d.refobjsubid,
                                        (SELECT a.atttypid FROM pg_attribute a
                                         WHERE a.attrelid = d.refobjid AND a.attnum = d.refobjsubid) AS atttypid
                                 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                   AND d.objsubid = 0 AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
                                 LIMIT 1) AS o ON true
              WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND lv.last_value IS NOT NULL{scope}
              ORDER BY lv.last_value::float8 / least(s.seqmax, CASE o.atttypid WHEN 'int4'::regtype THEN 2147483647
                                                     WHEN 'int2'::regtype THEN 32767 ELSE s.seqmax END) DESC,
                       c.oid LIMIT %(sequences)s) AS used)"""

#: a run that reads only some sequences (see ``history.sequences``): those fed to these columns, and
#: these unowned sequences, found by name (a table dropped or renamed since is simply not found).
#: ``= ANY (ARRAY(...))``, not ``IN (...)``: a semi-join would be pulled into the sequences' join
#: and the planner's search over a dozen relations cost more than reading every sequence
WATCHED = """
                AND c.oid = ANY (ARRAY(SELECT d.objid FROM unnest(%(owner_tables)s::text[], %(owner_columns)s::name[]) AS w(tab, col)
                                       JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = to_regclass(w.tab)
                                        AND d.refobjsubid = (SELECT a.attnum FROM pg_attribute a
                                                             WHERE a.attrelid = to_regclass(w.tab) AND a.attname = w.col)
                                        AND d.classid = 'pg_class'::regclass AND d.objsubid = 0 AND d.deptype IN ('a', 'i')
                                       UNION ALL
                                       SELECT to_regclass(q)::oid FROM unnest(%(sequence_names)s::text[]) AS q))"""


def readings_query(scope: SequenceScope) -> tuple[sql.Composed, dict[str, object]]:
    """The readings query reading the sequences of ``scope``, and its parameters."""
    params: dict[str, object] = {"largest": LARGEST_TABLES, "sequences": SEQUENCES_KEPT}
    if scope.every:
        return sql.SQL(READINGS).format(sequences=sql.SQL(SEQUENCES).format(scope=sql.SQL(""))), params
    if not scope.size:  # nothing to read: no sequence part to plan either (on a new session that costs ms)
        return sql.SQL(READINGS).format(sequences=sql.SQL("NULL::json")), params
    params.update(owner_tables=[qualified(o[0], o[1]) for o in scope.owners], owner_columns=[o[2] for o in scope.owners],
                  sequence_names=[qualified(*q) for q in scope.sequences])
    return sql.SQL(READINGS).format(sequences=sql.SQL(SEQUENCES).format(scope=sql.SQL(WATCHED))), params


def sequence_subject(schema: str, table: str | None, column: str | None, sequence: str) -> str:
    """``schema.table.column`` of the column a sequence feeds, else ``schema.sequence``; each part
    quoted only when PostgreSQL would need it (``public."Order".id``)."""
    parts = (schema, table, column) if table and column else (schema, sequence)
    return ".".join(quoted_if_needed(p) for p in parts)


def read_observations(conn: psycopg.Connection, database: str, scope: SequenceScope = EVERY) -> list[Observation]:
    """Every reading of ``database`` (its history key) on ``conn``, in one query; the sequences of
    ``scope`` only (default: all; a scan is then marked with a ``sequences_scanned`` observation)."""
    query, params = readings_query(scope)
    used, available, longest, lag, xid_age, size, transactions, largest, sequences = conn.execute(
        query, params).fetchone()
    found = [
        Observation(database, CONNECTIONS_USED, int(used), limit=max(int(available), 1)),
        Observation(database, LONGEST_TRANSACTION, float(longest or 0)),
        Observation(database, XID_AGE, int(xid_age), limit=WRAPAROUND),
        Observation(database, DATABASE_SIZE, int(size or 0)),
    ]
    if lag is not None:
        found.append(Observation(database, REPLICATION_LAG, float(lag)))
    if transactions is not None:
        found.append(Observation(database, TRANSACTIONS, int(transactions)))
    for schema, table, ratio in largest or ():
        if ratio is not None:
            found.append(Observation(database, DEAD_TUPLE_RATIO, round(float(ratio), 6),
                                     f"{quoted_if_needed(schema)}.{quoted_if_needed(table)}"))
    for seq_schema, sequence, seqmax, last_value, schema, table, column, type_name in sequences or ():
        limit = min(int(seqmax), TYPE_MAXIMUM.get(type_name or "", int(seqmax)))
        found.append(Observation(database, SEQUENCE_VALUE, int(last_value),
                                 sequence_subject(schema or seq_schema, table, column, sequence), float(limit)))
    if scope.every:
        found.append(Observation(database, SEQUENCES_SCANNED, len(sequences or ())))
    return found


@dataclass(frozen=True)
class StatementsUnavailable:
    """Why pg_stat_statements cannot be read here, and the exact steps that enable it."""

    reason: str
    steps: tuple[str, ...] = ()

    @property
    def how_to_enable(self) -> str:
        return " then ".join(s if s.endswith(";") or "--" in s else s + ";" for s in self.steps)


CREATE_EXTENSION = "CREATE EXTENSION IF NOT EXISTS pg_stat_statements;   -- in this database"


def enabling_steps(preloaded: str | None) -> tuple[str, ...]:
    """What to run given the server's ``shared_preload_libraries``: keep what is there, add
    pg_stat_statements, restart, create the extension. ``None``: this role may not read the setting."""
    if preloaded is None:
        return ("as a superuser, in psql: SELECT format('ALTER SYSTEM SET shared_preload_libraries = %L', "
                "concat_ws(', ', nullif(current_setting('shared_preload_libraries'), ''), 'pg_stat_statements')) \\gexec",
                "restart PostgreSQL", CREATE_EXTENSION)
    libraries = [name.strip().strip('"') for name in preloaded.split(",") if name.strip()]
    if "pg_stat_statements" in libraries:
        return (CREATE_EXTENSION,)
    value = ", ".join([*libraries, "pg_stat_statements"]).replace("'", "''")
    return (f"ALTER SYSTEM SET shared_preload_libraries = '{value}';", "restart PostgreSQL", CREATE_EXTENSION)


#: what :func:`read_statements` read on each open session: a healthcheck session lives for one run,
#: in which the regression check and the history snapshot both ask (ms apart)
_statements_read: weakref.WeakKeyDictionary[psycopg.Connection, list[StatementCounter] | StatementsUnavailable] = (
    weakref.WeakKeyDictionary())


def read_statements(conn: psycopg.Connection) -> list[StatementCounter] | StatementsUnavailable:
    """The ``STATEMENTS_KEPT`` most-called statements of this database (counters summed over users
    and nesting levels), or why they cannot be read and how to enable them; read once per session."""
    found = _statements_read.get(conn)
    if found is None:
        found = _statements_read[conn] = _read_statements(conn)
    return found


def _read_statements(conn: psycopg.Connection) -> list[StatementCounter] | StatementsUnavailable:
    schema, preloaded, role = conn.execute(
        "SELECT (SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_stat_statements'), "
        # pg_settings hides what the role may not read (current_setting() would raise for it)
        "(SELECT setting FROM pg_settings WHERE name = 'shared_preload_libraries'), current_user::text").fetchone()
    steps = enabling_steps(preloaded)
    if schema is None:
        return StatementsUnavailable("the pg_stat_statements extension is not installed in this database", steps)
    query = sql.SQL(
        "SELECT s.queryid::text, left(min(s.query), %s), sum(s.calls)::bigint, sum(s.total_exec_time)::float8 "
        "FROM {}.pg_stat_statements s "
        "WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND s.queryid IS NOT NULL "
        "GROUP BY s.queryid ORDER BY sum(s.calls) DESC LIMIT %s").format(sql.Identifier(schema))
    try:
        rows = conn.execute(query, (QUERY_TEXT_CHARS, STATEMENTS_KEPT)).fetchall()
    except errors.ObjectNotInPrerequisiteState:
        return StatementsUnavailable("pg_stat_statements is installed but not loaded", steps)
    except errors.InsufficientPrivilege:
        return StatementsUnavailable("this role may not read pg_stat_statements",
                                     (sql.SQL("GRANT pg_read_all_stats TO {};").format(sql.Identifier(role)).as_string(conn),))
    return [StatementCounter(q, text or "", int(calls), float(total)) for q, text, calls, total in rows]
