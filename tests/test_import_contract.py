"""The import contract of ARCHITECTURE.md holds on the product, and the checker catches each kind
of breach (shown on small synthetic trees, one per violation the architecture issue listed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.import_contract import LAYERS, violations

ROOT = Path(__file__).resolve().parent.parent


def test_the_product_keeps_the_import_contract() -> None:
    found = violations(ROOT)
    assert found == [], "\n".join(found)


def _tree(root: Path, files: dict[str, str]) -> Path:
    for top in LAYERS:
        (root / top).mkdir(parents=True, exist_ok=True)
        (root / top / "__init__.py").write_text("")
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(root).parents:
            if str(parent) != "." and not (root / parent / "__init__.py").exists():
                (root / parent / "__init__.py").write_text("")
        path.write_text(text)
    return root


CASES = {
    "tasks imports blocks (tasks/project.py took Settings from blocks/settings.py)": (
        {"tasks/project.py": "from migration_guard.blocks.settings import Settings\n",
         "blocks/settings.py": "class Settings: ...\n"},
        "against the layer order",
    ),
    "blocks and tasks import each other": (
        {"tasks/demo/story.py": "def f():\n    from migration_guard.blocks import settings\n",
         "blocks/database.py": "from migration_guard.tasks.db import connect\n",
         "tasks/db.py": "def connect(): ...\n", "blocks/settings.py": ""},
        "import cycle between top-level packages: blocks ⇄ tasks",
    ),
    "flows and deployments import each other (the CLI inside flows/)": (
        {"flows/cli/deploy.py": "from migration_guard.deployments import register\n",
         "deployments/register.py": "from migration_guard.flows import healthcheck\n",
         "flows/healthcheck.py": ""},
        "import cycle between top-level packages: deployments ⇄ flows",
    ),
    "a type cycle between two modules (checks/base.py ⇄ checks/config.py)": (
        {"tasks/checks/base.py": "from migration_guard.tasks.checks.config import HealthcheckConfig\n",
         "tasks/checks/config.py": "from migration_guard.tasks.checks.base import Check\n"},
        "import cycle between modules: tasks.checks.base ⇄ tasks.checks.config",
    ),
    "a fail-open ImportError guard around our own module": (
        {"tasks/migrate/pipeline.py": (
            "def validate():\n    try:\n        from migration_guard.tasks.validate import run_validation\n"
            "    except ImportError:\n        return {'ok': True}\n"),
         "tasks/validate/__init__.py": "def run_validation(): ...\n"},
        "ImportError guard around an import of our own modules",
    ),
    "a string import of our own module behind ModuleNotFoundError": (
        {"cli/story.py": (
            "import importlib\ndef load(m):\n    try:\n        return importlib.import_module(f'migration_guard.flows.{m}')\n"
            "    except ModuleNotFoundError:\n        return None\n")},
        "ImportError guard around an import of our own modules",
    ),
    "Prefect imported by plain logic under tasks/": (
        {"tasks/maintenance/cleanup.py": "from prefect import task\n"},
        "imports prefect",
    ),
    "typer imported below the CLI": (
        {"flows/status.py": "import typer\n"},
        "imports typer",
    ),
    "rich imported under tasks/": (
        {"tasks/backup/create.py": "def f():\n    from rich.progress import Progress\n"},
        "imports rich",
    ),
    "the foundation imports a capability": (
        {"tasks/project.py": "from migration_guard.tasks.status.compute import build_report\n",
         "tasks/status/compute.py": "def build_report(): ...\n"},
        "foundation tasks/project imports capability tasks/status",
    ),
    "two capabilities import each other": (
        {"tasks/migrate/plan.py": "from migration_guard.tasks.recover import plan\n",
         "tasks/recover/plan.py": "from migration_guard.tasks.migrate.apply import apply\n",
         "tasks/migrate/apply.py": "def apply(): ...\n"},
        "import cycle between units of tasks/: tasks/migrate ⇄ tasks/recover",
    ),
    "a relative import going up a layer": (
        {"tasks/alerts/notify.py": "from ...blocks import channels\n", "blocks/channels.py": ""},
        "against the layer order",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_checker_reports(case: str, tmp_path: Path) -> None:
    files, expected = CASES[case]
    found = violations(_tree(tmp_path, files))
    assert any(expected in line for line in found), found


def test_allowed_imports_are_not_reported(tmp_path: Path) -> None:
    files = {
        "tasks/recover/tasks.py": "from prefect import task\nfrom migration_guard.tasks.recover.steps import PLAIN\n",
        "tasks/recover/steps.py": "from migration_guard.tasks.db import connect\nPLAIN = 1\n",
        "tasks/db.py": "def connect():\n    try:\n        import psycopg_c\n    except ImportError:\n        pass\n",
        "blocks/database.py": "from prefect.blocks.core import Block\nfrom migration_guard.tasks.db import connect\n",
        "flows/recover.py": "from prefect import flow\nfrom migration_guard.blocks import database\n",
        "deployments/register.py": "from migration_guard.flows import recover\n",
        "cli/recover.py": "import typer\nfrom rich.table import Table\nfrom migration_guard.deployments import register\n",
    }
    assert violations(_tree(tmp_path, files)) == []


@pytest.mark.parametrize("argv", [["--help"], ["status", "--help"], ["lint", "--help"]])
def test_fast_commands_do_not_import_prefect(argv: list[str]) -> None:
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom migration_guard.cli import app\n"
        f"r = CliRunner().invoke(app, {argv!r})\n"
        "print(r.exit_code, sorted(m for m in sys.modules if m == 'prefect' or m.startswith('prefect.')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "0 []", done.stdout + done.stderr


def test_status_does_not_import_prefect(db_url: str, tmp_path: Path) -> None:
    migrations = tmp_path / "prisma" / "migrations" / "20240101000000_init"
    migrations.mkdir(parents=True)
    (migrations / "migration.sql").write_text("CREATE TABLE t (id int);\n")
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom migration_guard.cli import app\n"
        f"r = CliRunner().invoke(app, ['--database-url', {db_url!r}, 'status'])\n"
        "print(r.exit_code, 'prefect' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.stdout.split() == ["1", "False"], done.stdout + done.stderr
