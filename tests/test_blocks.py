"""Blocks: PostgresDatabase / MigrationProject / alert channels, and the one resolution path."""

from __future__ import annotations

import psycopg
import pytest
from pydantic import SecretStr, ValidationError

from migration_guard.blocks.database import PostgresDatabase
from migration_guard.blocks.project import MigrationProject
from migration_guard.blocks.resolve import resolve_settings
from migration_guard.tasks.settings import load_settings
from migration_guard.tasks.errors import ConfigError
from tests.helpers import make_prisma_project, run_cli

SECRET = "s3cr3t/p@ss"


def test_url_from_parts_quotes_user_and_password():
    block = PostgresDatabase(host="db.internal", port=6543, database="app", user="svc", password=SECRET, sslmode="require")
    url = block.url()
    assert isinstance(url, SecretStr)
    assert url.get_secret_value() == "postgresql://svc:s3cr3t%2Fp%40ss@db.internal:6543/app?sslmode=require"
    assert SECRET not in block.masked_url and "s3cr3t" not in block.masked_url
    assert SECRET not in repr(block) and "s3cr3t" not in str(block.model_dump())


def test_dsn_wins_and_must_be_a_postgres_url():
    block = PostgresDatabase(dsn="postgresql://a:b@h:1/d", host="ignored", database="x")
    assert block.url().get_secret_value() == "postgresql://a:b@h:1/d"
    with pytest.raises(ValidationError, match="postgresql:// URL"):
        PostgresDatabase(dsn="mysql://a:b@h/d")
    with pytest.raises(ValidationError, match="either dsn"):
        PostgresDatabase(host="h")


def test_connect_returns_a_psycopg_connection_with_our_application_name(db_url):
    block = PostgresDatabase(dsn=db_url, connect_timeout=3)
    with block.connect() as conn:
        assert isinstance(conn, psycopg.Connection)
        name = conn.execute("SELECT current_setting('application_name')").fetchone()[0]
    assert name == "migration-guard"


def test_project_values_feed_the_settings_model(tmp_path):
    migrations = make_prisma_project(tmp_path, {"20250101000000_init": "SELECT 1;"})
    block = MigrationProject(migrations_dir=str(migrations), migration_tool="prisma", db_schema="app",
                             lock_timeout="2s", environment="staging")
    settings = load_settings(**block.settings_values())
    assert settings.migrations_dir == migrations
    assert (settings.migration_tool, settings.db_schema, settings.lock_timeout, settings.environment) == (
        "prisma", "app", "2s", "staging")
    assert "backup_dir" not in block.settings_values()  # unset fields are left to the environment


@pytest.mark.prefect
def test_resolve_settings_reads_saved_blocks_and_keeps_the_url_secret(prefect_harness, db_url, tmp_path):
    from prefect.client.orchestration import get_client

    migrations = make_prisma_project(tmp_path, {"20250101000000_init": "SELECT 1;"})
    password_url = db_url.replace("postgresql://postgres@", f"postgresql://postgres:{SECRET.replace('/', '%2F').replace('@', '%40')}@")
    PostgresDatabase(dsn=password_url).save("blocks-test", overwrite=True)
    MigrationProject(migrations_dir=str(migrations), migration_tool="prisma").save("blocks-test", overwrite=True)

    settings = resolve_settings("blocks-test", "blocks-test")
    assert isinstance(settings.database_url, SecretStr)
    assert settings.database_url.get_secret_value() == password_url
    assert settings.migrations_dir == migrations
    # explicit values beat blocks
    assert resolve_settings("blocks-test", "blocks-test", migration_tool="sql").migration_tool == "sql"

    with get_client(sync_client=True) as client:
        document = client.read_block_document_by_name(
            "blocks-test", "migration-guard-postgres-database", include_secrets=False
        )
    assert "s3cr3t" not in str(document.data)  # masked over the API


@pytest.mark.prefect
def test_missing_block_is_one_clear_config_error(prefect_harness):
    with pytest.raises(ConfigError) as caught:
        resolve_settings(database_block="no-such-block")
    assert "no-such-block" in caught.value.message
    assert "blocks create-from-env" in caught.value.suggestion


@pytest.mark.prefect
def test_status_flow_runs_from_blocks_only(prefect_harness, db_url, tmp_path):
    from migration_guard.flows.status import status_flow

    migrations = make_prisma_project(tmp_path, {"20250101000000_init": "CREATE TABLE t (id int);"})
    PostgresDatabase(dsn=db_url).save("flow-blocks", overwrite=True)
    MigrationProject(migrations_dir=str(migrations)).save("flow-blocks", overwrite=True)
    report = status_flow(database_block="flow-blocks", project_block="flow-blocks")
    assert [m["name"] for m in report["migrations"]] == ["20250101000000_init"]
    assert report["migrations"][0]["state"] == "pending"


@pytest.mark.prefect
def test_cli_create_from_env_saves_database_project_and_channels(prefect_harness, db_url, tmp_path):
    from migration_guard.blocks.loading import values_from_blocks

    migrations = make_prisma_project(tmp_path, {"20250101000000_init": "SELECT 1;"})
    env = {"DATABASE_URL": db_url, "MIGRATIONS_DIR": str(migrations), "LOCK_TIMEOUT": "3s",
           "ALERT_WEBHOOK_URL": "http://127.0.0.1:9/hook"}
    result = run_cli(["blocks", "create-from-env", "from-env"], env=env)
    assert result.exit_code == 0, result.output
    assert "saved PostgreSQL Database block from-env" in result.stdout
    assert "migration-guard-webhook" in result.stdout
    values = values_from_blocks("from-env", "from-env")
    assert values["database_url"].get_secret_value() == db_url
    assert values["lock_timeout"] == "3s" and values["migrations_dir"] == str(migrations)

    again = run_cli(["blocks", "create-from-env", "from-env"], env=env)
    assert again.exit_code == 2 and "--overwrite" in again.stderr
    assert run_cli(["blocks", "create-from-env", "from-env", "--overwrite"], env=env).exit_code == 0
    assert run_cli(["blocks", "create-from-env", "Bad Name"], env=env).exit_code == 2


@pytest.mark.prefect
def test_cli_register_block_types(prefect_harness):
    result = run_cli(["blocks", "register"])
    assert result.exit_code == 0, result.output
    assert "migration-guard-postgres-database" in result.stdout
    assert "slack-incoming-webhook" in result.stdout


def test_project_hooks_and_startup_check_reach_settings(tmp_path):
    block = MigrationProject(post_migrate_hooks=["npx prisma generate", "echo 'a b'"],
                             startup_check_url="http://127.0.0.1:3000/health", migrate_lock_wait=5)
    settings = load_settings(**block.settings_values())
    import json

    assert json.loads(settings.post_migrate_hooks) == [["npx", "prisma", "generate"], ["echo", "a b"]]
    assert settings.startup_check_url == "http://127.0.0.1:3000/health"
    assert settings.migrate_lock_wait == 5
