"""A DATABASE_URL that is mistyped is a configuration error, found when the settings load: one line
naming the bad part, each command's configuration exit code, no connectivity alert, and no byte of
the password anywhere (output, alerts, logs, backups) — whatever shape the string has.

Exit codes (README "Exit codes", each command's --help): status and healthcheck 3 (could not check,
bad configuration), migrate and recover 2 (bad usage or configuration).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from tests.helpers import make_prisma_project, run_cli

CONFIG_EXIT = {"status": 3, "healthcheck": 3, "migrate": 2, "recover": 2}
COMMANDS = (["status"], ["migrate"], ["healthcheck"], ["recover", "--plan"])

#: (DATABASE_URL, what the one error line must say, fragments of the password that must never show)
CASES = {
    "scheme without colon": ("postgres//postgres:s3cret@127.0.0.1/newcomer_app",
                             "write the scheme as postgresql://", ("s3cret",)),
    "scheme with one slash": ("postgresql:/postgres:s3cret@127.0.0.1/newcomer_app",
                              "write the scheme as postgresql://", ("s3cret",)),
    "scheme without colon, with a query": ("postgres//postgres:s3cret@127.0.0.1/newcomer_app?sslmode=disable",
                                           "write the scheme as postgresql://", ("s3cret",)),
    "upper-case scheme": ("POSTGRESQL://postgres:s3cret@127.0.0.1/newcomer_app",
                          "write the scheme as postgresql://", ("s3cret",)),
    "other scheme": ("mysql://postgres:s3cret@127.0.0.1/newcomer_app", "'mysql://' URL", ("s3cret",)),
    "not a URL": ("app:s3cret@127.0.0.1/newcomer_app", "not shown: it may hold a password", ("s3cret",)),
    "at and hash in password": ("postgresql://postgres:p@ss#word@127.0.0.1:5432/newcomer_app",
                                "DATABASE_PASSWORD", ("ss#word", "p@ss", "word@")),
    "at and slash in password": ("postgresql://postgres:p@ss/word@127.0.0.1:5432/newcomer_app",
                                 "%2F", ("ss/word", "p@ss")),
    "question mark in password": ("postgresql://postgres:p?ss@word@127.0.0.1:5432/newcomer_app",
                                  "%3F", ("p?ss", "ss@word")),
    "port not a number": ("postgresql://postgres:s3cret@127.0.0.1:54x2/newcomer_app",
                          "port '54x2' is not a port number", ("s3cret",)),
    "port out of range": ("postgresql://postgres:s3cret@127.0.0.1:99999/newcomer_app",
                          "port '99999' is not a port number", ("s3cret",)),
    "stray bracket": ("postgresql://postgres:s3cret@[127.0.0.1:5432/newcomer_app", "unbalanced [", ("s3cret",)),
    "bad sslmode": ("postgresql://postgres:s3cret@127.0.0.1:5432/newcomer_app?sslmode=bogus",
                    "sslmode 'bogus' is not valid: use one of disable, allow, prefer, require, verify-ca, verify-full",
                    ("s3cret",)),
    "unknown parameter": ("postgresql://postgres:s3cret@127.0.0.1:5432/newcomer_app?sslmdoe=require",
                          "unknown connection parameter ?sslmdoe=", ("s3cret",)),
    "keyword DSN, bad port": ("host=127.0.0.1 password=s3cret dbname=newcomer_app port=54x2",
                              "port '54x2' is not a port number", ("s3cret",)),
    "keyword DSN, bad sslmode": ("host=127.0.0.1 password=s3cret dbname=newcomer_app sslmode=bogus",
                                 "sslmode 'bogus' is not valid", ("s3cret",)),
    "keyword DSN, stray word": ("host=127.0.0.1 password='a b' s3cret dbname=newcomer_app",
                                "does not parse", ("s3cret",)),
    "keyword DSN, unknown option": ("host=127.0.0.1 dbname=newcomer_app passwrd=s3cret",
                                    "invalid connection option", ("s3cret",)),
}

#: connectivity advice that has no place in a configuration error
CONNECTIVITY_WORDS = ("Cannot reach", "cannot connect", "pg_isready", "pg_hba", "PostgreSQL log", "resolve host")


@pytest.fixture()
def app(tmp_path: Path) -> Path:
    make_prisma_project(tmp_path, {"20240101000000_init": "CREATE TABLE t (id int);\n"})
    return tmp_path


def _env(app: Path, url: str) -> dict[str, str]:
    return {"DATABASE_URL": url, "ALERTS_DIR": str(app / "alerts"), "LOG_DIR": str(app / "logs"),
            "BACKUP_DIR": str(app / "backups"), "CONNECT_TIMEOUT": "2"}


def _written_files(app: Path) -> list[Path]:
    return [p for name in ("alerts", "logs", "backups") if (app / name).exists()
            for p in (app / name).rglob("*") if p.is_file()]


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_mistyped_url_is_one_config_line_with_no_part_of_the_password(case: str, app: Path) -> None:
    url, expected, secrets = CASES[case]
    for args in COMMANDS:
        result = run_cli(args, env=_env(app, url), cwd=app)
        output = result.stdout + result.stderr
        shown = f"{case}: `{' '.join(args)}` -> {result.exit_code}:\n{output[-1500:]}"
        assert result.exit_code == CONFIG_EXIT[args[0]], shown
        assert [s for s in secrets if s in output] == [], shown
        errors = [line for line in output.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "DATABASE_URL" in errors[0] and expected in errors[0], shown
        assert not [w for w in CONNECTIVITY_WORDS if w in output], shown
        assert "Traceback" not in output, shown
    leaked = {str(p): [s for s in secrets if s in p.read_text(errors="replace")] for p in _written_files(app)}
    assert {p: hits for p, hits in leaked.items() if hits} == {}
    # nothing connected, so nothing alerted: no connectivity alert for a typo
    assert not (app / "alerts").exists() or list((app / "alerts").rglob("*.json")) == []


@pytest.mark.parametrize("case", ["at and hash in password", "scheme without colon"])
def test_the_shadow_and_state_urls_are_checked_the_same_way(case: str, app: Path, db_url: str) -> None:
    url, _, secrets = CASES[case]
    for variable in ("SHADOW_DATABASE_URL", "STATE_DATABASE_URL"):
        result = run_cli(["status"], env={**_env(app, db_url), variable: url}, cwd=app)
        assert result.exit_code == 3 and variable in result.output, result.output
        assert [s for s in secrets if s in result.output] == [], result.output


def _with_query(db_url: str, query: str) -> str:
    return f"{db_url}{'&' if '?' in db_url else '?'}{query}"


def test_well_formed_urls_still_reach_the_database(app: Path, db_url: str) -> None:
    params = conninfo_to_dict(db_url)
    keyword = f"host={params['host']} port={params.get('port', 5432)} user={params['user']} dbname={params['dbname']}"
    host_port = f"{params['host']}:{params.get('port', 5432)}"
    good = [
        _with_query(db_url, "sslmode=disable&schema=public&connect_timeout=3&application_name=mg"),
        _with_query(db_url, "target_session_attrs=any&sslmode=prefer"),
        # an encoded password: trust auth ignores it, so only the parsing is under test
        f"postgresql://{params['user']}:p%40ss%23word%2F%3F@{host_port}/{params['dbname']}",
        f"postgres://{params['user']}@{host_port},{host_port}/{params['dbname']}",
        f"{keyword} sslmode=disable",
        f"{keyword} password='p@ss #word'",
    ]
    for url in good:
        result = run_cli(["status"], env=_env(app, url), cwd=app)
        # 1 = one pending migration: the URL parsed and the database answered
        assert result.exit_code == 1, f"{url}:\n{result.output}"
        assert "p@ss" not in result.output and "p%40ss" not in result.output, result.output


def test_a_mistyped_url_in_the_healthcheck_config_names_its_entry(app: Path, db_url: str) -> None:
    url, _, secrets = CASES["at and hash in password"]
    (app / "hc.yaml").write_text("databases:\n  - name: main\n    url_env: DATABASE_URL\n"
                                 "  - name: reports\n    url_env: REPORTS_URL\n")
    for bad in (url, CASES["bad sslmode"][0], CASES["scheme without colon"][0]):
        env = {**_env(app, db_url), "HEALTHCHECK_CONFIG": str(app / "hc.yaml"), "REPORTS_URL": bad}
        result = run_cli(["healthcheck"], env=env, cwd=app)
        assert result.exit_code == 3, result.output
        assert "REPORTS_URL (database 'reports' in HEALTHCHECK_CONFIG)" in result.output, result.output
        assert [s for s in (*secrets, "s3cret") if s in result.output] == [], result.output
        assert not [w for w in CONNECTIVITY_WORDS if w in result.output], result.output
    assert _written_files(app) == []


@pytest.mark.parametrize("url", ["s3cret", "postgres//app:s3cret@db/app", "postgresql://app:s3cret@db:5x432/app",
                                 "postgresql://app:p@ss#s3cret@db/app"])
def test_a_validation_error_raised_by_the_models_themselves_quotes_no_input(url: str) -> None:
    from migration_guard.blocks.database import PostgresDatabase
    from migration_guard.tasks.settings import Settings
    from pydantic import ValidationError

    for build in (lambda: Settings(database_url=url), lambda: Settings(shadow_database_url=url),
                  lambda: PostgresDatabase(dsn=url)):
        with pytest.raises(ValidationError) as raised:
            build()
        # what a traceback or a log line shows (errors() keeps the input for code that asks for it)
        text = f"{raised.value}{raised.value!r}"
        assert "s3cret" not in text, text
