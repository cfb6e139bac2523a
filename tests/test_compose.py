"""docker-compose.yml, Dockerfile and .dockerignore, checked without a Docker engine: the file
parses, every command exists, health checks everywhere, pg_dump matches the server, and the
ports / volumes / variables are the ones docs/deployment.md documents."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from migration_guard.tasks.settings import Settings

REPO = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
DOCKERFILE = (REPO / "Dockerfile").read_text()
DOCS = (REPO / "docs" / "deployment.md").read_text()
PREFECT = Path(sys.executable).with_name("prefect")


def test_the_stack_has_the_five_services_and_the_data_volumes():
    assert set(SERVICES) == {"app-db", "prefect-db", "prefect-server", "worker", "deploy"}
    assert {"backups", "logs", "alerts", "app-db-data", "prefect-db-data"} <= set(COMPOSE["volumes"])


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_a_health_check(name):
    test = SERVICES[name]["healthcheck"]["test"]
    text = " ".join(test) if isinstance(test, list) else test
    if name.endswith("-db"):
        assert "pg_isready" in text
    else:
        assert "/health" in text


def test_databases_report_healthy_only_through_pg_isready_and_the_server_through_its_api():
    assert "/api/health" in " ".join(SERVICES["prefect-server"]["healthcheck"]["test"])
    assert SERVICES["prefect-server"]["depends_on"]["prefect-db"]["condition"] == "service_healthy"
    assert SERVICES["worker"]["depends_on"]["deploy"]["condition"] == "service_completed_successfully"
    server_env = SERVICES["prefect-server"]["environment"]
    assert server_env["PREFECT_SERVER_DATABASE_DRIVER"] == "postgresql+asyncpg"
    assert server_env["PREFECT_SERVER_DATABASE_HOST"] == "prefect-db"


def migration_guard_commands() -> set[str]:
    from typer.main import get_command

    from migration_guard.cli import app

    return set(get_command(app).commands)


@pytest.mark.parametrize("name", ["worker", "deploy"])
def test_project_services_run_commands_that_exist(name):
    command = SERVICES[name]["command"]
    assert SERVICES[name]["build"]["context"] == "."
    if command[0] == "migration-guard":
        assert command[1] in migration_guard_commands()
    else:
        assert command[:3] == ["prefect", "worker", "start"]
        pool = command[command.index("--pool") + 1]
        assert pool == "migration-guard"  # the pool prefect.yaml and `deploy` use
        done = subprocess.run([str(PREFECT), *command[1:3], "--help"], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0
        for option in command[3:]:
            if option.startswith("--"):
                assert option in done.stdout, option


def test_the_server_command_exists_in_the_installed_prefect():
    command = SERVICES["prefect-server"]["command"]
    done = subprocess.run([str(PREFECT), "server", "start", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    for option in (o for o in command if o.startswith("--")):
        assert option in done.stdout, option
    import prefect

    assert SERVICES["prefect-server"]["image"].startswith(f"prefecthq/prefect:{prefect.__version__}-")


def test_worker_image_pg_dump_matches_the_application_server_major():
    server_major = SERVICES["app-db"]["image"].split(":")[1].split(".")[0]
    for name in ("worker", "deploy"):
        assert SERVICES[name]["build"]["args"]["PG_MAJOR"] == server_major
    assert re.search(r"^ARG PG_MAJOR=(\d+)$", DOCKERFILE, re.MULTILINE).group(1) == server_major
    assert 'postgresql-client-${PG_MAJOR}' in DOCKERFILE
    assert "pg_dump --version | grep" in DOCKERFILE  # the build fails if apt gave another major


def test_the_dockerfile_copies_every_package_folder_and_ignores_local_state():
    for folder in ("cli", "flows", "tasks", "blocks", "deployments"):
        assert f"COPY {folder} {folder}" in DOCKERFILE
    ignored = (REPO / ".dockerignore").read_text().split()
    for path in (".venv", ".git", ".demo", "logs", "backups"):
        assert path in ignored


def test_volumes_are_where_the_settings_point():
    env = SERVICES["worker"]["environment"]
    mounts = dict(v.split(":")[1::-1] for v in SERVICES["worker"]["volumes"] if not v.startswith("${"))
    assert mounts["/data/backups"] == "backups" and env["BACKUP_DIR"] == "/data/backups"
    assert mounts["/data/logs"] == "logs" and env["LOG_DIR"] == "/data/logs"
    assert mounts["/data/alerts"] == "alerts" and env["ALERTS_DIR"] == "/data/alerts"
    assert any(v.endswith(":/migrations:ro") for v in SERVICES["worker"]["volumes"])
    assert env["MIGRATIONS_DIR"] == "/migrations"
    assert SERVICES["deploy"]["environment"] == {k: v for k, v in env.items() if k != "PREFECT_WORKER_WEBSERVER_PORT"}


def test_environment_names_are_settings_or_prefect_and_documented():
    known = {f.upper() for f in Settings.model_fields} | {"DB_SCHEMA"}
    for name, service in SERVICES.items():
        for variable in service.get("environment") or {}:
            if not variable.startswith(("PREFECT_", "POSTGRES_")):
                assert variable in known, f"{name}: {variable} is not a migration-guard setting"
            if not variable.startswith("POSTGRES_"):
                assert f"`{variable}" in DOCS, f"{variable} is not in docs/deployment.md"
    compose_text = (REPO / "docker-compose.yml").read_text()
    for variable in sorted(set(re.findall(r"\$\{([A-Z_]+)(?::[-?][^}]*)?\}", compose_text))):
        assert f"`{variable}`" in DOCS, f"compose variable {variable} is not documented"


def test_published_ports_and_volumes_match_the_docs():
    for service in SERVICES.values():
        for mapping in service.get("ports") or []:
            published = re.sub(r"\$\{[A-Z_]+:-([\d.]+)\}", r"\1", mapping).split(":")[-2]
            assert f"**{published}**" in DOCS, mapping
    for volume in COMPOSE["volumes"]:
        assert f"`{volume}`" in DOCS, volume
    assert "docker compose up" in DOCS


SCHEMA = REPO / "tests" / "data" / "compose-spec" / "compose-spec.json"


def test_the_file_is_valid_against_the_compose_specification_schema():
    import json

    import jsonschema

    schema = json.loads(SCHEMA.read_text())
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(COMPOSE), key=lambda e: list(e.path))
    assert errors == [], [f"{list(e.path)}: {e.message}" for e in errors]


def test_the_schema_check_would_catch_a_broken_file():
    import json

    import jsonschema

    broken = {**COMPOSE, "services": {**SERVICES, "worker": {**SERVICES["worker"], "depends_on": {"x": {"condition": "soon"}}}}}
    assert list(jsonschema.Draft7Validator(json.loads(SCHEMA.read_text())).iter_errors(broken))


def test_ports_are_published_on_loopback_by_default():
    for name, service in SERVICES.items():
        for mapping in service.get("ports") or []:
            assert mapping.startswith("${BIND_ADDRESS:-127.0.0.1}:"), f"{name}: {mapping}"


def test_no_password_has_a_default():
    compose_text = (REPO / "docker-compose.yml").read_text()
    for variable in re.findall(r"\$\{([A-Z_]*PASSWORD[A-Z_]*)([^}]*)\}", compose_text):
        assert variable[1].startswith(":?"), f"{variable[0]} must be required (${{{variable[0]}:?...}}), not defaulted"
    for name, service in SERVICES.items():
        for key, value in (service.get("environment") or {}).items():
            if isinstance(value, str) and "://" in value:
                assert "${" not in value.split("://", 1)[1].split("@")[0] or "@" not in value, (
                    f"{name}: {key} puts a variable into a URL's user-info (not URL-encoded)")


def test_compose_v2_is_named_as_required():
    assert "Compose v2" in (REPO / "docker-compose.yml").read_text()
    assert "Compose v2" in DOCS


def test_the_image_installs_pinned_dependencies_before_copying_the_sources():
    constraints = (REPO / ".ci" / "constraints.txt").read_text().splitlines()
    pins = [line for line in constraints if line and not line.startswith(("#", " "))]
    assert pins and all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[^=\s]+", line) for line in pins), pins
    names = {line.split("==")[0].lower() for line in pins}
    assert {"prefect", "psycopg", "pglast", "slack-sdk"} <= names
    deps_layer = DOCKERFILE.index("-r .ci/constraints.txt")
    assert deps_layer < DOCKERFILE.index("COPY tasks tasks") < DOCKERFILE.index("--no-deps .")
