"""Hostile connection strings: reserved characters left unencoded in the password, unparseable
ports, keyword DSNs. No byte of the password may reach any output, alert, log or file, and the
error must say what to fix (never "fix the port" for a password that holds a '/')."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import make_prisma_project, run_cli, run_cli_process

pytestmark = pytest.mark.security

SECRET = "LeakMe456Secret"
#: fragments hunted everywhere: a parser that splits at the wrong place leaks a half
MARKERS = (SECRET, "Me456Secret", "456Secret", "LeakMe456", "Me456#Secret", "#Secret")

HOSTILE_URLS = {
    "slash in password": f"postgresql://app:abc/{SECRET}@127.0.0.1:5432/db",
    "question mark in password": f"postgresql://app:abc?{SECRET}@127.0.0.1:5432/db",
    "hash in password": f"postgresql://app:abc#{SECRET}@127.0.0.1:5432/db",
    "at sign in password": f"postgresql://app:Leak@Me456Secret@127.0.0.1:5432/db",
    "slash and query": f"postgresql://app:a/{SECRET}@127.0.0.1:5432/db?schema=public",
    "bad port": f"postgresql://app:{SECRET}@127.0.0.1:54x32/db",
    "port out of range": f"postgresql://app:{SECRET}@127.0.0.1:99999/db",
    "broken IPv6 bracket": f"postgresql://app:{SECRET}@[::1:5432/db",
    "refused port": f"postgresql://app:{SECRET}@127.0.0.1:1/db",
    "keyword DSN, bad port": f"host=127.0.0.1 user=app password={SECRET} port=5432x dbname=db",
    "keyword DSN, quoted password": f"host=127.0.0.1 user=app password='a b{SECRET}' port=1 dbname=db",
    # the '#' hides the second '@' from a parser that stops the authority at it
    "at then hash in password": "postgresql://app:Leak@Me456#Secret@127.0.0.1:5432/db",
    "scheme without colon": f"postgres//app:{SECRET}@127.0.0.1:5432/db",
    "scheme with one slash": f"postgresql:/app:{SECRET}@127.0.0.1:5432/db",
    "bad sslmode": f"postgresql://app:{SECRET}@127.0.0.1:5432/db?sslmode=bogus",
    "keyword DSN, stray word": f"host=127.0.0.1 user=app password='a b' {SECRET} dbname=db",
}

COMMANDS = (
    ["status"], ["status", "--json"], ["healthcheck"], ["healthcheck", "--json"], ["validate"],
    ["migrate", "--dry-run"], ["migrate"], ["recover", "--plan"],
    ["backup", "create"], ["backup", "list"], ["alerts", "list"],
)

UNPARSEABLE = {"slash in password", "question mark in password", "hash in password", "at sign in password",
               "slash and query", "at then hash in password"}


def _leaks(text: str) -> list[str]:
    return [m for m in MARKERS if m in text]


def _files_leaking(root: Path) -> dict[str, list[str]]:
    found = {}
    for path in root.rglob("*"):
        if path.is_file():
            hits = _leaks(path.read_bytes().decode(errors="replace"))
            if hits:
                found[str(path.relative_to(root))] = hits
    return found


@pytest.fixture()
def app(tmp_path: Path) -> Path:
    make_prisma_project(tmp_path, {"20240101000000_init": "CREATE TABLE t (id int);\n"})
    return tmp_path


def _env(app: Path, url: str) -> dict[str, str]:
    return {"DATABASE_URL": url, "ALERTS_DIR": str(app / "alerts"), "LOG_DIR": str(app / "logs"),
            "BACKUP_DIR": str(app / "backups"), "CONNECT_TIMEOUT": "2"}


@pytest.mark.parametrize("case", sorted(HOSTILE_URLS))
def test_no_command_shows_or_stores_any_part_of_the_password(case: str, app: Path) -> None:
    url = HOSTILE_URLS[case]
    for args in COMMANDS:
        result = run_cli(args, env=_env(app, url), cwd=app)
        output = result.stdout + result.stderr
        assert _leaks(output) == [], f"{case}: `{' '.join(args)}` printed {_leaks(output)}:\n{output[-2000:]}"
        assert "Traceback" not in output, f"{case}: `{' '.join(args)}`:\n{output[-2000:]}"
        assert result.exit_code != 0 or args == ["alerts", "list"] or args == ["backup", "list"], (case, args, output)
    assert _files_leaking(app) == {}


@pytest.mark.parametrize("case", sorted(UNPARSEABLE))
def test_an_unencoded_password_is_named_as_the_problem(case: str, app: Path) -> None:
    result = run_cli(["status"], env=_env(app, HOSTILE_URLS[case]), cwd=app)
    text = " ".join((result.stdout + result.stderr).split())
    assert result.exit_code == 3
    assert "DATABASE_URL does not parse" in text and "%2F" in text and "%40" in text, text
    assert "fix the port" not in text and "PostgreSQL log" not in text, text


def test_the_suggested_encoder_produces_a_url_that_connects(db_url: str, app: Path) -> None:
    import subprocess
    import sys

    # the hint's one-liner, fed a password with every reserved character, gives an encoding that
    # the URL parser splits correctly
    encoded = subprocess.run(
        [sys.executable, "-c", "import urllib.parse,sys; print(urllib.parse.quote(sys.stdin.readline().rstrip('\\n'), safe=''))"],
        input="a/b?c#d@e\n", capture_output=True, text=True, check=True,
    ).stdout.strip()
    from psycopg.conninfo import conninfo_to_dict

    assert conninfo_to_dict(f"postgresql://app:{encoded}@127.0.0.1:5432/db")["password"] == "a/b?c#d@e"


@pytest.mark.parametrize("case", ["slash in password", "keyword DSN, bad port"])
def test_a_real_process_writes_no_byte_of_the_password(case: str, app: Path) -> None:
    # status: 3 could not check; healthcheck: 3 for a URL that does not parse, 2 (CRITICAL, the
    # connectivity check failed) for one that parses but cannot connect
    for args, codes in ((["status"], {3}), (["healthcheck"], {2, 3})):
        done = run_cli_process(args, env=_env(app, HOSTILE_URLS[case]), cwd=app, timeout=120)
        assert _leaks(done.stdout + done.stderr) == [], done.stdout + done.stderr
        assert done.exit_code in codes, done.stdout + done.stderr
    assert _files_leaking(app) == {}
