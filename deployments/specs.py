"""The deployments described in ``prefect.yaml``, as data — the one definition that
`migration-guard deploy`, `serve-deployments` and plain `prefect deploy` share."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from migration_guard.tasks.errors import ConfigError

PREFECT_YAML = Path(__file__).with_name("prefect.yaml")
FLOW_PACKAGE = "migration_guard.flows"


@dataclass(frozen=True)
class DeploymentSpec:
    """One deployment: which flow, when, how many at once, with which parameters."""

    name: str
    entrypoint: str
    description: str = ""
    tags: tuple[str, ...] = ()
    crons: tuple[tuple[str, str], ...] = ()  # (cron, timezone)
    concurrency_limit: int | None = None
    collision_strategy: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    work_pool: str = "migration-guard"
    work_queue: str | None = None
    job_variables: dict[str, Any] = field(default_factory=dict)

    @property
    def module(self) -> str:
        """``flows/healthcheck.py:healthcheck_flow`` → ``migration_guard.flows.healthcheck``."""
        path = self.entrypoint.split(":", 1)[0]
        return f"{FLOW_PACKAGE}.{Path(path).with_suffix('').name}"

    @property
    def attribute(self) -> str:
        return self.entrypoint.split(":", 1)[1]

    @property
    def module_entrypoint(self) -> str:
        """The importable entrypoint a worker resolves wherever migration-guard is installed."""
        return f"{self.module}.{self.attribute}"

    def load_flow(self) -> Any | None:
        """The Flow object; None when its module does not define ``attribute`` (a wrong prefect.yaml)."""
        return getattr(importlib.import_module(self.module), self.attribute, None)


def load_specs(path: Path = PREFECT_YAML) -> list[DeploymentSpec]:
    """Every deployment in ``prefect.yaml``.

    Raises:
        ConfigError: the file is missing or malformed.
    """
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    specs = []
    for entry in (document or {}).get("deployments") or []:
        try:
            specs.append(_spec(entry))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{path}: deployment {entry.get('name', '?')!r} is malformed ({exc})") from None
    if not specs:
        raise ConfigError(f"{path} lists no deployments")
    return specs


def _spec(entry: dict[str, Any]) -> DeploymentSpec:
    concurrency = entry.get("concurrency_limit")
    if isinstance(concurrency, int):
        concurrency = {"limit": concurrency}
    pool = entry.get("work_pool") or {}
    return DeploymentSpec(
        name=entry["name"],
        entrypoint=entry["entrypoint"],
        description=" ".join(str(entry.get("description") or "").split()),
        tags=tuple(entry.get("tags") or ()),
        crons=tuple((s["cron"], s.get("timezone", "UTC")) for s in entry.get("schedules") or [] if s.get("cron")),
        concurrency_limit=concurrency["limit"] if concurrency else None,
        collision_strategy=concurrency.get("collision_strategy") if concurrency else None,
        parameters=dict(entry.get("parameters") or {}),
        work_pool=pool.get("name", "migration-guard"),
        work_queue=pool.get("work_queue_name"),
        job_variables=dict(pool.get("job_variables") or {}),
    )


def to_runner_deployment(
    spec: DeploymentSpec,
    flow: Any,
    *,
    name: str | None = None,
    parameters: dict[str, Any] | None = None,
    for_serve: bool = False,
    image: str | None = None,
) -> Any:
    """A Prefect ``RunnerDeployment`` for ``spec`` (module entrypoint, schedules, concurrency).

    Args:
        spec: the deployment's definition.
        flow: the loaded flow.
        name: deployment name (default ``spec.name``); a fleet uses one name per database.
        parameters: replace the block-name parameters (e.g. another database's blocks).
        for_serve: no work pool (``serve()`` runs the flows itself).
        image: container image for Docker / Kubernetes work pools (job variable ``image``).
    """
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Cron

    concurrency: Any = None
    if spec.concurrency_limit is not None:
        concurrency = ConcurrencyLimitConfig(
            limit=spec.concurrency_limit,
            collision_strategy=ConcurrencyLimitStrategy(spec.collision_strategy or "ENQUEUE"),
        )
    options: dict[str, Any] = {}
    if not for_serve:
        job_variables = {**spec.job_variables, **({"image": image} if image else {})}
        options = {"work_pool_name": spec.work_pool, "work_queue_name": spec.work_queue,
                   "entrypoint_type": EntrypointType.MODULE_PATH, "job_variables": job_variables or None}
    return flow.to_deployment(
        name=name or spec.name,
        schedules=[Cron(cron, timezone=tz) for cron, tz in spec.crons] or None,
        concurrency_limit=concurrency,
        parameters={**spec.parameters, **(parameters or {})},
        description=spec.description,
        tags=list(spec.tags),
        **options,
    )
