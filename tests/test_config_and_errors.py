"""Configuration validation, DSN masking and database error classification (real servers)."""

from __future__ import annotations

import socket

import psycopg
import pytest

from migration_guard.tasks.settings import load_settings
from migration_guard.tasks.db import classify_error, connect, libpq_dsn, schema_from_dsn
from migration_guard.tasks.errors import Category, ConfigError, DatabaseError
from migration_guard.tasks.secrets import mask_dsn, passwords_in, redact
from tests.pg_server import free_port, with_database

SECRET = "Zq9-very-secret-pw"



@pytest.mark.parametrize(
    ("dsn", "masked"),
    [
        (f"postgresql://app:{SECRET}@db:5432/prod", "postgresql://app:***@db:5432/prod"),
        (f"postgres://app:{SECRET}@db/prod?schema=public", "postgres://app:***@db/prod?schema=public"),
        (f"host=db user=app password={SECRET} dbname=prod", "host=db user=app password=*** dbname=prod"),
        (f"postgresql://db/prod?user=app&password={SECRET}", "postgresql://db/prod?user=app&password=***"),
        ("postgresql://app@db/prod", "postgresql://app@db/prod"),
        # mistyped schemes: the URL patterns miss them, the password is masked all the same
        (f"postgres//app:{SECRET}@db/prod", "postgres//app:***@db/prod"),
        (f"got 'postgresql:/app:{SECRET}@db/prod'", "got 'postgresql:***@db/prod'"),
        (f"postgresql:app:{SECRET}@db/prod?sslmode=disable", "postgresql:***@db/prod?sslmode=disable"),
        # '@' and '#' unencoded in the password: the whole user-info goes
        ("postgresql://app:p@ss#Zq9-word@db:5432/prod", "postgresql://***@db:5432/prod"),
        ("at postgresql://app:p@Zq9-ss@db/prod, then", "at postgresql://***@db/prod, then"),
        ("ss#word@127.0.0.1 was not resolved", "ss#word@127.0.0.1 was not resolved"),
    ],
)
def test_mask_dsn_hides_every_password_form(dsn: str, masked: str) -> None:
    assert mask_dsn(dsn) == masked


def test_redact_removes_url_encoded_and_raw_passwords() -> None:
    dsn = "postgresql://app:p%40ss%21word@db/prod"
    text = "failed for p@ss!word and p%40ss%21word"
    assert "p@ss!word" not in redact(text, passwords_in(dsn))
    assert "p%40ss%21word" not in redact(text, passwords_in(dsn))


def test_prisma_schema_parameter_is_understood_and_stripped_for_libpq() -> None:
    dsn = "postgresql://app:pw@db:5432/prod?schema=billing&sslmode=require&connection_limit=5"
    assert schema_from_dsn(dsn) == "billing"
    assert libpq_dsn(dsn) == "postgresql://app:pw@db:5432/prod?sslmode=require"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"MIGRATION_TOOL": "flyway"}, "MIGRATION_TOOL"),
        ({"DATABASE_URL": f"mysql://root:{SECRET}@db/app"}, "DATABASE_URL"),
        ({"DATABASE_URL": f"postgres//root:{SECRET}@db/app"}, "DATABASE_URL"),
        ({"DATABASE_URL": f"postgresql:/root:{SECRET}@db/app"}, "DATABASE_URL"),
        ({"DATABASE_URL": f"postgresql://root:{SECRET}@db:5x432/app"}, "DATABASE_URL"),
        ({"DATABASE_URL": f"postgresql://root:{SECRET}@db/app?sslmode=on"}, "DATABASE_URL"),
        ({"DATABASE_URL": f"host=db password={SECRET} sslmode=on"}, "DATABASE_URL"),
        ({"DATABASE_URL": f"host=db password='x {SECRET}' {SECRET}"}, "DATABASE_URL"),
        ({"SHADOW_DATABASE_URL": f"postgres//root:{SECRET}@db/app"}, "SHADOW_DATABASE_URL"),
        ({"CONNECT_TIMEOUT": "soon"}, "CONNECT_TIMEOUT"),
        ({"CONNECT_TIMEOUT": "0"}, "CONNECT_TIMEOUT"),
    ],
)
def test_invalid_settings_name_the_variable_without_leaking(monkeypatch: pytest.MonkeyPatch, env: dict, variable: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith((f"{variable}:", f"{variable} does not parse:")), message
    assert "\n" not in message
    assert SECRET not in message


def test_settings_never_show_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://app:{SECRET}@db/prod")
    settings = load_settings()
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings.model_dump())
    assert settings.masked_database_url == "postgresql://app:***@db/prod"


def test_connection_refused_is_classified() -> None:
    port = free_port()
    with pytest.raises(DatabaseError) as caught:
        connect(f"postgresql://postgres:{SECRET}@127.0.0.1:{port}/postgres", connect_timeout=2)
    error = caught.value
    assert (error.category, error.kind) == (Category.DATABASE_CONNECTION, "connection_refused")
    assert f"pg_isready -h 127.0.0.1 -p {port}" in error.suggestion
    assert SECRET not in error.message


def test_dns_failure_is_classified() -> None:
    with pytest.raises(DatabaseError) as caught:
        connect(f"postgresql://postgres:{SECRET}@no-such-host.invalid:5432/postgres", connect_timeout=2)
    assert caught.value.kind == "dns_failure"
    assert SECRET not in caught.value.message


def test_missing_database_is_classified_by_sqlstate(pg_admin_url: str, db_url: str) -> None:
    missing = with_database(db_url, "mg_no_such_database")
    with pytest.raises(DatabaseError) as caught:
        connect(missing)
    assert (caught.value.sqlstate, caught.value.kind) == ("3D000", "missing_database")
    assert "createdb" in caught.value.suggestion


def test_wrong_password_is_classified_by_sqlstate(password_server) -> None:
    with pytest.raises(DatabaseError) as caught:
        connect(password_server.url(password=SECRET))
    error = caught.value
    assert error.sqlstate == "28P01"
    assert (error.category, error.kind) == (Category.PERMISSION, "bad_password")
    assert SECRET not in error.message
    with connect(password_server.url()) as conn:  # the right password works
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_permission_denied_is_classified(db: psycopg.Connection, db_url: str) -> None:
    role = "mg_no_rights"
    db.execute(f"DROP ROLE IF EXISTS {role}")
    db.execute(f"CREATE ROLE {role} LOGIN")
    try:
        db.execute("CREATE TABLE secret_stuff (id int)")
        with connect(db_url) as conn:
            conn.execute(f"SET ROLE {role}")
            with pytest.raises(psycopg.Error) as raw:
                conn.execute("SELECT * FROM secret_stuff")
        error = classify_error(raw.value, db_url)
        assert (error.sqlstate, error.category) == ("42501", Category.PERMISSION)
        assert "GRANT" in error.suggestion
    finally:
        db.execute("DROP TABLE IF EXISTS secret_stuff")
        db.execute(f"DROP ROLE IF EXISTS {role}")


def test_lock_timeout_is_classified(db: psycopg.Connection, db_url: str) -> None:
    db.execute("CREATE TABLE busy (id int)")
    with connect(db_url, autocommit=False) as holder, connect(db_url) as waiter:
        holder.execute("LOCK TABLE busy IN ACCESS EXCLUSIVE MODE")
        waiter.execute("SET lock_timeout = '100ms'")
        with pytest.raises(psycopg.Error) as raw:
            waiter.execute("SELECT * FROM busy")
        holder.rollback()
    error = classify_error(raw.value, db_url)
    assert (error.sqlstate, error.category, error.kind) == ("55P03", Category.TIMEOUT, "lock_timeout")


def test_a_server_that_never_answers_is_a_timeout_without_extra_probes() -> None:
    import threading
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts TCP connections, never speaks the protocol
    port = listener.getsockname()[1]
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept_forever() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept_forever, daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        with pytest.raises(DatabaseError) as caught:
            connect(f"postgresql://app:{SECRET}@127.0.0.1:{port}/app", connect_timeout=2)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()
    assert (caught.value.category, caught.value.kind) == (Category.TIMEOUT, "timeout")
    assert len(accepted) == 1  # one attempt: no reconnect probes after the timeout
    assert elapsed >= 1.9
    assert SECRET not in caught.value.message
