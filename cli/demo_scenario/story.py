"""The demo's story: incident → healthcheck (HIGH alert) → recover → healthcheck (resolved) →
safe-migrate of the next migration. Every flow runs for real, in this one process (one Prefect
start-up), against the demo's own database. A step that fails is reported and the story goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migration_guard.cli.demo_scenario import scenario
from migration_guard.tasks.errors import MigrationGuardError
from migration_guard.tasks.secrets import redact
from migration_guard.cli.demo_scenario.server import DEMO_DATABASE, DemoServer, drop_database, recreate_database


@dataclass
class StepResult:
    """One step of the story, as the summary shows it."""

    name: str
    ok: bool
    seconds: float
    headline: str
    details: list[str] = field(default_factory=list)
    available: bool = True


@dataclass
class DemoPaths:
    """Where the demo writes (all under one folder, default ``./.demo``)."""

    root: Path

    @property
    def project(self) -> Path:
        return self.root / "project"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def alerts(self) -> Path:
        return self.root / "logs" / "alerts"

    @property
    def backups(self) -> Path:
        return self.root / "backups"

    def environment(self) -> dict[str, str]:
        """The variables the flows read for this demo (folders, environment name)."""
        return {
            "ENVIRONMENT": "demo",
            "LOG_DIR": str(self.logs),
            "ALERTS_DIR": str(self.alerts),
            "BACKUP_DIR": str(self.backups),
        }


@dataclass
class DemoContext:
    """What every step needs: the database, the project and the folders."""

    server: DemoServer
    paths: DemoPaths
    database_name: str = DEMO_DATABASE
    database_url: str = ""
    project: scenario.DemoProject | None = None

    def flow_parameters(self) -> dict[str, Any]:
        assert self.project is not None
        return {
            "database_url": self.database_url,
            "migrations_dir": str(self.project.migrations_dir),
            "migration_tool": "prisma",
        }


class StepFailed(Exception):
    """A step could not reach its goal; the message says what was observed."""

    def __init__(self, message: str, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.details = details or []


def timed(name: str, action: Callable[[], tuple[bool, str, list[str]]]) -> StepResult:
    """Run one step, catching its failure into the result (the story goes on and reports it)."""
    started = time.perf_counter()
    try:
        ok, headline, details = action()
        available = True
    except FlowNotAvailable as exc:
        ok, headline, details, available = False, f"not available yet ({exc})", [], False
    except StepFailed as exc:
        ok, headline, details, available = False, str(exc), exc.details, True
    except MigrationGuardError as exc:
        ok, headline, details, available = False, exc.message, [exc.suggestion] if exc.suggestion else [], True
    except Exception as exc:  # a bug in a flow must not hide the rest of the story
        ok, headline, details, available = False, f"{type(exc).__name__}: {redact(str(exc))}", [], True
    return StepResult(name, ok, time.perf_counter() - started, headline, details, available)


class FlowNotAvailable(Exception):
    """A step cannot run in this environment; the story reports it as "not available yet"."""


def setup_incident(ctx: DemoContext) -> tuple[bool, str, list[str]]:
    """Create the demo database and project, load data, and make the migration fail halfway."""
    ctx.database_url = recreate_database(ctx.server, ctx.database_name)
    ctx.project = scenario.build_project(ctx.paths.project)
    scenario.seed_production(ctx.database_url, ctx.project)
    incident = scenario.reproduce_incident(ctx.database_url, ctx.project)
    if incident.foreign_key_created or not incident.columns_added:
        raise StepFailed("the incident did not leave the expected partial state")
    return True, f"{scenario.INCIDENT} failed halfway (SQLSTATE {incident.sqlstate})", [
        f"error: {incident.error}",
        f"left behind: columns {', '.join(incident.columns_added)}; index "
        f"{'created' if incident.index_created else 'missing'}; foreign key missing",
        f"cause in the data: {incident.orphan_payments} payments whose customer was deleted",
        f"{scenario.CUSTOMERS} customers, {scenario.PAYMENTS} payments in database {ctx.database_name} "
        f"on {ctx.server.target}",
    ]


def teardown(ctx: DemoContext) -> None:
    """Drop the demo database (nothing else on the server is touched)."""
    drop_database(ctx.server, ctx.database_name)


def run_flow(flow: Any, **parameters: Any) -> tuple[Any, Any]:
    """Run a flow in this process; return (final state, result or the exception it raised)."""
    state = flow(**parameters, return_state=True)
    try:
        result = state.result(raise_on_failure=False)
    except Exception as exc:  # a result that cannot be read is reported, not raised
        result = exc
    return state, result


def firing_alerts(ctx: DemoContext) -> list[Any]:
    """Alerts currently firing in the demo's alert folder."""
    from migration_guard.tasks.alerts.store import AlertStore

    return [a for a in AlertStore(ctx.paths.alerts).load().alerts if a.status.value == "firing"]


def alert_lines(alerts: list[Any]) -> list[str]:
    lines = []
    for alert in alerts:
        lines.append(f"{alert.severity.value} {alert.category}: {alert.title}")
        lines.extend(f"  suggestion: {s}" for s in alert.suggestions[:2])
    return lines


def healthcheck_sees_incident(ctx: DemoContext) -> tuple[bool, str, list[str]]:
    """Step 1: the hourly healthcheck, run now, raises a HIGH alert for the failed migration."""
    from migration_guard.flows.healthcheck import healthcheck_flow as flow
    state, _ = run_flow(flow, **ctx.flow_parameters())
    high = [a for a in firing_alerts(ctx) if a.severity.value == "HIGH"]
    if not high:
        raise StepFailed(f"healthcheck ended {state.name} but raised no HIGH alert")
    return True, f"{len(high)} HIGH alert(s) firing; flow run {state.name} (red in run history)", alert_lines(high)


def recover_incident(ctx: DemoContext) -> tuple[bool, str, list[str]]:
    """Step 2: recover. First the plan (diagnosis, cause), then — once the cause the diagnosis
    names is fixed, as an operator would — the approved run: back up, repair, fix the ledger,
    verify with the drift check."""
    from migration_guard.flows.recover import recover_flow as flow
    details: list[str] = []
    state, result = run_flow(flow, **ctx.flow_parameters(), plan_only=True, approve=True, backup=False)
    details.extend(describe_recovery("recover plan_only=True", state, result))
    if scenario.observe_incident(ctx.database_url).orphan_payments:
        moved = scenario.archive_orphan_payments(ctx.database_url)
        details.append(
            f"operator's fix for the cause: moved {moved} orphan payments to "
            f"{scenario.ARCHIVE_SCHEMA}.orphan_payments (outside the migrated schema; nothing deleted)"
        )
    state, result = run_flow(flow, **ctx.flow_parameters(), approve=True)
    details.extend(describe_recovery("recover approve=True", state, result))
    outcome = incident_outcome(ctx)
    if not state.is_completed():
        raise StepFailed(f"recover ended {state.name} (ledger: {scenario.INCIDENT} {outcome})", details)
    if outcome == "failed":
        raise StepFailed(f"recover ended {state.name}; {scenario.INCIDENT} is still failed", details)
    incident = scenario.observe_incident(ctx.database_url)
    if outcome == "applied" and not incident.foreign_key_created:
        raise StepFailed("the ledger says applied but the foreign key is missing")
    if outcome == "rolled_back" and (incident.columns_added or incident.index_created):
        raise StepFailed("the ledger says rolled back but the partial columns/index are still there")
    headline = {
        "applied": "recovered forward: the missing foreign key added, ledger resolved as applied",
        "rolled_back": "recovered by rollback: partial columns and index removed, ledger resolved as rolled back",
    }[outcome]
    return True, headline, details


def describe_recovery(label: str, state: Any, result: Any) -> list[str]:
    """What a recover run found and did, from its report (or its failure message)."""
    if not isinstance(result, dict):
        return describe_result(label, state, result)
    lines = [f"{label}: {result.get('outcome', state.name)}"]
    diagnosis = result.get("diagnosis") or {}
    if diagnosis.get("summary"):
        lines.append(f"  diagnosis: {diagnosis['summary']}")
    for row in diagnosis.get("statements") or []:
        if isinstance(row, dict):
            lines.append("    " + " | ".join(str(v) for v in list(row.values())[:4])[:160])
    cause = result.get("cause") or {}
    if cause.get("summary"):
        rows = f" — offending rows now: {cause['offending_rows']}" if cause.get("offending_rows") is not None else ""
        lines.append(f"  cause: {cause['summary']}{rows}")
    plan = result.get("plan") or {}
    if plan:
        blocked = f" — blocked: {plan['blocked_reason']}" if plan.get("blocked_reason") else ""
        lines.append(f"  plan: {plan.get('direction')}, {len(plan.get('steps') or [])} step(s), "
                     f"ledger → {plan.get('ledger_action')}{blocked}")
    backup = result.get("backup") or {}
    if backup.get("path"):
        lines.append(f"  backup: {backup['path']}")
    verification = result.get("verification") or {}
    if verification:
        lines.append("  verified: " + ", ".join(f"{k}={v}" for k, v in verification.items()
                                               if not isinstance(v, (list, dict)))[:200])
    if result.get("reason") and result.get("outcome") != "recovered":
        lines.append(f"  reason: {result['reason']}")
    timings = result.get("timings") or {}
    if timings:
        lines.append("  timings: " + ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()))
    return lines


def describe_result(label: str, state: Any, result: Any) -> list[str]:
    """A line or two about a flow run's outcome (its state and, when it returned one, its summary)."""
    line = f"{label}: {state.name}"
    if state.message and not state.is_completed():
        message = state.message.splitlines()[0].removeprefix("Flow run encountered an exception: ")
        line += f" — {message[:400]}"
    lines = [line]
    if isinstance(result, dict):
        for key in ("summary", "cause", "direction", "outcome"):
            if result.get(key):
                lines.append(f"  {key}: {str(result[key])[:200]}")
    return lines


def incident_outcome(ctx: DemoContext) -> str:
    """applied | rolled_back | failed: the incident migration's state read from the ledger."""
    report = read_status(ctx)
    state = next(s.state.value for s in report.statuses if s.name == scenario.INCIDENT)
    return {"applied": "applied", "rolled_back": "rolled_back", "pending": "rolled_back"}.get(state, "failed")


def read_status(ctx: DemoContext) -> Any:
    from migration_guard.tasks.project import Project
    from migration_guard.tasks.status.pipeline import read_status as read
    from migration_guard.tasks.settings import load_settings

    assert ctx.project is not None
    return read(Project.from_settings(load_settings(
        database_url=ctx.database_url, migrations_dir=ctx.project.migrations_dir, migration_tool="prisma")))


def healthcheck_resolves(ctx: DemoContext) -> tuple[bool, str, list[str]]:
    """Step 3: the next healthcheck finds the problem gone and resolves the alert."""
    from migration_guard.flows.healthcheck import healthcheck_flow as flow
    state, _ = run_flow(flow, **ctx.flow_parameters())
    from migration_guard.tasks.alerts.store import AlertStore

    alerts = AlertStore(ctx.paths.alerts).load().alerts
    resolved = [a for a in alerts if a.status.value == "resolved"]
    high = [a for a in alerts if a.status.value == "firing" and a.severity.value == "HIGH"]
    if high:
        raise StepFailed(f"healthcheck ended {state.name}; still firing: {high[0].title}")
    if not resolved:
        raise StepFailed(f"healthcheck ended {state.name} but no alert was marked resolved")
    return True, f"{len(resolved)} alert(s) resolved; flow run {state.name}", [
        f"resolved: {a.title} (after {a.occurrences} occurrence(s))" for a in resolved
    ]


def safe_migrate_next(ctx: DemoContext) -> tuple[bool, str, list[str]]:
    """Step 4: the developer's next migration goes out through safe-migrate (validate, backup,
    lock, one transaction, verify)."""
    from migration_guard.flows.safe_migrate import safe_migrate_flow as flow
    assert ctx.project is not None
    details = [f"new migration: {scenario.FOLLOW_UP}"]
    ctx.project.add_follow_up()
    if incident_outcome(ctx) == "rolled_back" and scenario.observe_incident(ctx.database_url).orphan_payments:
        moved = scenario.archive_orphan_payments(ctx.database_url)
        details.append(f"before re-applying {scenario.INCIDENT}: moved {moved} orphan payments to "
                       f"{scenario.ARCHIVE_SCHEMA}.orphan_payments")
    state, result = run_flow(flow, **ctx.flow_parameters())
    details.extend(describe_result("safe-migrate", state, result))
    report = read_status(ctx)
    not_applied = [s.name for s in report.statuses if s.state.value != "applied"]
    if not_applied:
        raise StepFailed(f"safe-migrate ended {state.name}; not applied: {', '.join(not_applied)}", details)
    if not scenario.observe_incident(ctx.database_url).foreign_key_created:
        raise StepFailed("every migration is recorded as applied but Payment_customerId_fkey is missing")
    return True, f"{len(report.statuses)} migrations applied, status clean", details


def start_prefect(ctx: DemoContext) -> tuple[bool, str, list[str]]:
    """Reach the Prefect API once, so its start-up (a temporary local server) is timed on its own
    rather than inside the first flow."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        client.hello()
        url = str(client.api_url)
    return True, f"temporary local API ready at {url}", []


STEPS: list[tuple[str, Callable[[DemoContext], tuple[bool, str, list[str]]]]] = [
    ("incident", setup_incident),
    ("prefect", start_prefect),
    ("healthcheck", healthcheck_sees_incident),
    ("recover", recover_incident),
    ("healthcheck again", healthcheck_resolves),
    ("safe-migrate", safe_migrate_next),
]


def run_story(ctx: DemoContext, on_step: Callable[[StepResult], None]) -> list[StepResult]:
    """Run every step in order; after a failed setup nothing else can run."""
    results = []
    for name, step in STEPS:
        result = timed(name, lambda step=step: step(ctx))
        results.append(result)
        on_step(result)
        if name == "incident" and not result.ok:
            break
    return results
